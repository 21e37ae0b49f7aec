"""Runs the real cde API under uvicorn for the acceptance tests, plus a throwaway test plugin.

Started as a script in a subprocess (so a test can SIGKILL it). Configuration comes from the
environment exactly as for `cde serve` (CDE_TASK_STORE, CDE_API_KEYS, CDE_DATA_ROOT, CDE_SERVER__*);
CDE_TEST_HEARTBEAT_S shortens the instance heartbeat. The plugin adds ``/test/...`` routes the way
a stage engineer would: a slow task with progress, and a file read out of a run folder.
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from typing import Annotated, Any, Literal

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictFloat

from cde_core import hookimpl
from cde_core.config import load_config
from cde_core.errors import DataError, NotFoundError
from cde_core.plugins import get_plugins
from cde_core.tasks import TaskContext, TaskInfo
from cde_server.api.app import create_app
from cde_server.api.paths import FileNamePath, RunIdPath, run_file_path
from cde_server.tasks import TaskManager, open_task_store

READS: list[str] = []


def _json_integer(value: Any) -> Any:
    """JSON Schema's integer: 3 and 3.0 yes, true and "3" no (pydantic's lax int takes all four)."""
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON integer")
    return value


JsonInt = Annotated[int, BeforeValidator(_json_integer)]


class SlowParams(BaseModel):
    # accept exactly what the JSON schema says (schemathesis checks both directions): StrictBool and
    # StrictFloat refuse pydantic's lax coercions (0 → False, false → 0.0), JsonInt refuses true and "3"
    model_config = ConfigDict(extra="forbid")

    steps: JsonInt = Field(20, ge=1, le=1000)
    delay_s: StrictFloat = Field(0.05, ge=0, le=0.1)
    fail: StrictBool = False
    idempotent: StrictBool = False
    timeout_s: StrictFloat | None = Field(None, gt=0, le=3600)
    pool: Literal["thread", "process"] = "thread"
    ignore_cancel: StrictBool = False
    journal: StrictBool = Field(False, description="append '<pid> <step> <time>' to <lake>/journal-<task>.log "
                                "per step, after the cancel poll: a stand-in for committing a partition")
    quiet: StrictBool = Field(False, description="report progress only after the last step (work with long "
                              "units between progress reports)")


def slow_work(params: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    p = SlowParams.model_validate(params)
    for i in range(p.steps):
        if not p.ignore_cancel:
            ctx.cancel.raise_if_cancelled("slow work")
        if p.journal:
            with open(os.path.join(os.environ["CDE_DATA_ROOT"], f"journal-{ctx.task_id}.log"), "a") as out:
                out.write(f"{os.getpid()} {i} {time.time()}\n")
        time.sleep(p.delay_s)
        if not p.quiet or i + 1 == p.steps:
            ctx.progress((i + 1) / p.steps, f"step {i + 1}/{p.steps}")
    if p.fail:
        raise DataError("asked to fail", hint="send fail=false")
    return {"steps": p.steps, "pid": os.getpid()}


class TestPlugin:
    @hookimpl
    def register_routes(self, app: FastAPI) -> None:
        app.state.tasks.register_handler("test.slow", slow_work)
        router = APIRouter(prefix="/test", tags=["test"])

        @router.post("/slow", status_code=202, response_model=TaskInfo)
        def slow(request: Request, body: SlowParams) -> TaskInfo:
            run = functools.partial(slow_work, body.model_dump())
            return request.app.state.tasks.submit("test.slow", body, run, idempotent=body.idempotent,
                                                  timeout_s=body.timeout_s, pool=body.pool)

        @router.get("/runs/{run_id}/files/{name}", response_class=PlainTextResponse,
                    responses={404: {"description": "no such run or file"}})
        def run_file(request: Request, run_id: RunIdPath, name: FileNamePath) -> str:
            path = run_file_path(request.app.state.lake, run_id, name)
            if not path.is_file():
                raise NotFoundError(f"no file '{name}' in run '{run_id}'")
            READS.append(str(path))
            return path.read_text()

        @router.get("/reads", response_model=list[str])
        def reads() -> list[str]:
            return READS

        app.include_router(router)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    config = load_config(use_file=False).config
    heartbeat = float(os.environ.get("CDE_TEST_HEARTBEAT_S", "5"))
    store = open_task_store(config.server.task_store, ttl_s=config.server.task_ttl_s)
    manager = TaskManager(store, max_workers=int(os.environ.get("CDE_TEST_WORKERS", "4")),
                          default_timeout_s=config.server.task_timeout_s, heartbeat_s=heartbeat,
                          instance_ttl_s=3 * heartbeat, kill_grace_s=2.0)
    get_plugins().register(TestPlugin(), name="server-tests")
    app = create_app(config, task_manager=manager)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
