"""The REST router: POST /download runs the same service as a task; GET /lake lists the inventory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from cde_core.config import CdeConfig, LoadedConfig, set_config
from cde_core.lake import Lake
from cde_core.progress import CancelToken
from cde_core.tasks import TaskContext, TaskFunction, TaskInfo
from cde_exchanges.fakes.archive_server import ArchiveServer
from cde_exchanges.fakes.archive_writer import ArchiveVariant, write_archive_file
from cde_exchanges.fakes.synthetic_trades import random_trades
from cde_exchanges.formats.binance import BinanceArchive


class InlineTasks:
    """A TaskSubmitter that runs the task at once (the server's manager runs it in the background)."""

    def __init__(self) -> None:
        self.tasks: dict[str, TaskInfo] = {}
        self.handlers: dict[str, Callable[[dict[str, Any], TaskContext], Any]] = {}

    def register_handler(self, kind: str, handler: Callable[[dict[str, Any], TaskContext], Any]) -> None:
        self.handlers[kind] = handler

    def submit(self, kind: str, params: BaseModel, run: TaskFunction, *, idempotent: bool = False,
               timeout_s: float | None = None) -> TaskInfo:
        ctx = TaskContext(task_id="t1", progress=lambda f, m: None, cancel=CancelToken())
        result: Any = run(ctx)
        info = TaskInfo(id="t1", kind=kind, params=params.model_dump(mode="json"), status="succeeded",
                        progress=1.0, result=result, created_at=datetime.now(UTC))
        self.tasks[info.id] = info
        return info

    def get(self, task_id: str) -> TaskInfo:
        return self.tasks[task_id]


@pytest.mark.parametrize("data_root", ["local", "s3"], indirect=True)
def test_download_and_lake_routes(archive_root: Path, server: ArchiveServer, config: CdeConfig) -> None:
    fastapi = pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from cde_exchanges import plugin

    day = date(2024, 6, 10)
    write_archive_file(archive_root, BinanceArchive().daily_file("spot", "trades", "BTCUSDT", day),
                       random_trades(day, 120), ArchiveVariant())
    app = fastapi.FastAPI()
    tasks = InlineTasks()
    app.state.tasks, app.state.config, app.state.lake = tasks, config, Lake(config.data_root)
    plugin.register_routes(app)
    set_config(LoadedConfig(config=config, origins={}))
    try:
        client = TestClient(app)
        assert client.get("/lake").json() == []  # a snapshot of the empty lake, fresh for an hour:
        app.state.lake_inventory.ttl_s = 3600  # only the download's end can make the commit show up
        answer = client.post("/download", json={"exchange": "binance", "market": "spot", "symbols": ["BTCUSDT"],
                                                "start": "2024-06-10", "end": "2024-06-10"})
        assert answer.status_code == 202, answer.text
        assert answer.json()["result"]["summary"]["days"]["written"] == 1
        app.state.lake_inventory.settle()  # the refresh the task's end started
        lake = client.get("/lake", params={"exchange": "binance"}).json()
        assert [(i["symbol"], i["rows"], i["days"]) for i in lake] == [("BTCUSDT", 120, 1)]
        # the handler a restarted server re-runs an interrupted download with: same params, resumes
        ctx = TaskContext(task_id="t1", progress=lambda f, m: None, cancel=CancelToken())
        again = tasks.handlers["download"](tasks.tasks["t1"].params, ctx)
        assert again["summary"]["days"]["skipped"] == 1
    finally:
        set_config(None)
