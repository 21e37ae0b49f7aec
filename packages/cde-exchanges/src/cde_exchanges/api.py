"""REST routes: ``POST /download`` (runs as a task) and ``GET /lake`` (inventory). Same models and
services as the CLI. fastapi is imported only here."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request

from cde_core.config import CdeConfig
from cde_core.lake import SAFE_VALUE_PATTERN
from cde_core.tasks import TaskContext, TaskInfo
from cde_exchanges.download_models import DownloadRequest
from cde_exchanges.lake_inventory import SymbolInventory

DOWNLOAD_TASK = "download"

router = APIRouter(tags=["exchanges"])

#: a lake partition value; the schema carries safe_value's rule so only names the lake takes are valid
PartitionQuery = Annotated[str | None, Query(pattern=SAFE_VALUE_PATTERN, max_length=200)]


def download_task(config: CdeConfig, params: dict[str, Any], context: TaskContext) -> dict[str, Any]:
    """Run one download from its stored JSON params: what ``POST /download`` submits and what a
    restarted server re-runs (a download resumes: days already in the lake are skipped)."""
    from cde_core.plugins import get_plugins
    from cde_exchanges.download_service import run_download

    body = DownloadRequest.model_validate(params)
    adapter = get_plugins().exchanges.get(body.exchange)
    report = run_download(body, adapter=adapter, config=config, progress=context.progress, cancel=context.cancel)
    return {"summary": report.summary(), "report": report.model_dump(mode="json")}


def register_routes(app: FastAPI) -> None:
    """Mount the routes and register the download handler, so the task manager can re-queue an
    interrupted download (submitted ``idempotent=True``) after a restart instead of failing it."""
    from cde_exchanges.lake_inventory_cache import InventoryCache

    app.state.tasks.register_handler(DOWNLOAD_TASK, functools.partial(download_task, app.state.config))
    app.state.lake_inventory = InventoryCache(app.state.lake)
    app.include_router(router)


@router.post("/download", status_code=202)
def start_download(body: DownloadRequest, request: Request) -> TaskInfo:
    """Start a download task; poll the task for progress and the report."""
    from cde_core.plugins import get_plugins
    from cde_exchanges.download_service import check_request

    check_request(body, get_plugins().exchanges.get(body.exchange), request.app.state.config)  # 4xx now
    run = functools.partial(download_task, request.app.state.config, body.model_dump(mode="json"))
    info: TaskInfo = request.app.state.tasks.submit(DOWNLOAD_TASK, body, run, idempotent=True)
    return info


@router.get("/lake", response_model=list[SymbolInventory])
def lake_inventory(request: Request, exchange: PartitionQuery = None,
                   market: PartitionQuery = None, symbol: PartitionQuery = None,
                   limit: Annotated[int, Query(ge=1, le=10_000, description="rows per page")] = 1000,
                   offset: Annotated[int, Query(ge=0, le=10_000_000, description="rows to skip")] = 0,
                   ) -> Any:
    """What the lake's downloaded trees hold per series, a page at a time (``X-Total-Count`` says how
    many rows match). Served from an inventory at most a few seconds old (a committed partition shows
    up within that), rebuilt by one request at a time."""
    from fastapi.responses import JSONResponse

    rows = request.app.state.lake_inventory.select(exchange=exchange, market=market, symbol=symbol)
    # rows are JSON-ready: encoded once here, not re-validated per request (this route takes the load)
    return JSONResponse(rows[offset:offset + limit], headers={"X-Total-Count": str(len(rows))})
