"""REST routes: ``POST /download`` (runs as a task) and ``GET /lake`` (inventory). Same models and
services as the CLI. fastapi is imported only here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from cde_core.tasks import TaskContext, TaskInfo
from cde_exchanges.download_models import DownloadRequest

router = APIRouter(tags=["exchanges"])


@router.post("/download", status_code=202)
def start_download(body: DownloadRequest, request: Request) -> TaskInfo:
    """Start a download task; poll the task for progress and the report."""
    from cde_core.config import get_config
    from cde_core.plugins import get_plugins
    from cde_exchanges.download_service import run_download

    adapter = get_plugins().exchanges.get(body.exchange)
    adapter.check(body.market, body.kind)

    def run(context: TaskContext) -> dict[str, Any]:
        report = run_download(body, adapter=adapter, config=get_config(), progress=context.progress,
                              cancel=context.cancel)
        return {"summary": report.summary(), "report": report.model_dump(mode="json")}

    info: TaskInfo = request.app.state.tasks.submit("download", body, run, idempotent=True)
    return info


@router.get("/lake")
def lake_inventory(exchange: str | None = None, market: str | None = None,
                   symbol: str | None = None) -> list[dict[str, Any]]:
    """What the trades lake holds per symbol."""
    from cde_core.config import get_config
    from cde_core.lake import Lake
    from cde_exchanges.lake_inventory import inventory

    items = inventory(Lake(get_config().data_root), exchange=exchange, market=market, symbol=symbol)
    return [i.model_dump(mode="json") for i in items]
