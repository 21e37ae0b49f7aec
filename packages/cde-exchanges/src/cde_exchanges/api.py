"""REST routes: ``POST /download`` (runs as a task) and ``GET /lake`` (inventory). Same models and
services as the CLI. fastapi is imported only here."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request

from cde_core.config import CdeConfig
from cde_core.errors import CdeError
from cde_core.lake import SAFE_VALUE_PATTERN
from cde_core.tasks import TaskContext, TaskInfo
from cde_exchanges.download.models import DownloadRequest
from cde_exchanges.lake.inventory import SymbolInventory

DOWNLOAD_TASK = "download"

router = APIRouter(tags=["exchanges"])

#: a lake partition value; the schema carries safe_value's rule so only names the lake takes are valid
PartitionQuery = Annotated[str | None, Query(pattern=SAFE_VALUE_PATTERN, max_length=200)]


def download_task(config: CdeConfig, params: dict[str, Any], context: TaskContext,
                  on_commit: Callable[[], None] | None = None) -> dict[str, Any]:
    """Run one download from its stored JSON params: what ``POST /download`` submits and what a
    restarted server re-runs (a download resumes: days already in the lake are skipped). ``on_commit``
    runs when it ends, whatever the outcome (the API refreshes ``GET /lake`` then)."""
    from cde_core.plugins import get_plugins
    from cde_exchanges.download.service import run_download

    body = DownloadRequest.model_validate(params)
    adapter = get_plugins().exchanges.get(body.exchange)
    try:
        report = run_download(body, adapter=adapter, config=config, progress=context.progress,
                              cancel=context.cancel)
    finally:
        if on_commit is not None:
            on_commit()  # GET /lake shows the committed partitions now, not only once its snapshot is stale
    if not report.ok:  # as `cde download` exits 1: a task whose days failed did not succeed
        raise incomplete_download(report)
    return {"summary": report.summary(), "report": report.model_dump(mode="json")}


def incomplete_download(report: Any) -> CdeError:
    """The one-line error of a download some of whose days failed (the days written are kept)."""
    summary = report.summary()
    failed, total = summary["days"]["failed"], len(report.days)
    first = summary["errors"][0] if summary["errors"] else "see the server log"
    more = f" (and {len(summary['errors']) - 1} more errors)" if len(summary["errors"]) > 1 else ""
    return CdeError(f"{failed} of {total} {report.partition_unit} failed: {first}{more}",
                    where=f"download {report.exchange} {report.market} {report.kind}",
                    hint=f"{summary['days']['written']} written and kept; run the same download again to "
                         "resume (days in the lake are skipped)")


def register_routes(app: FastAPI) -> None:
    """Mount the routes and register the download handler, so the task manager can re-queue an
    interrupted download (submitted ``idempotent=True``) after a restart instead of failing it."""
    from cde_exchanges.lake.inventory_cache import InventoryCache

    app.state.lake_inventory = InventoryCache(app.state.lake)
    app.state.tasks.register_handler(DOWNLOAD_TASK, _download_handler(app))
    app.include_router(router)


def _download_handler(app: FastAPI) -> Callable[[dict[str, Any], TaskContext], dict[str, Any]]:
    inventory = getattr(app.state, "lake_inventory", None)
    return functools.partial(download_task, app.state.config,
                             on_commit=inventory.invalidate if inventory is not None else None)


@router.post("/download", status_code=202)
def start_download(body: DownloadRequest, request: Request) -> TaskInfo:
    """Start a download task; poll the task for progress and the report."""
    from cde_core.plugins import get_plugins
    from cde_exchanges.download.service import check_request

    check_request(body, get_plugins().exchanges.get(body.exchange), request.app.state.config)  # 4xx now
    run = functools.partial(_download_handler(request.app), body.model_dump(mode="json"))
    info: TaskInfo = request.app.state.tasks.submit(DOWNLOAD_TASK, body, run, idempotent=True)
    return info


@router.get("/lake", response_model=list[SymbolInventory],
            responses={304: {"description": "the page is unchanged since the ETag sent in If-None-Match"}})
async def lake_inventory(request: Request, exchange: PartitionQuery = None,
                         market: PartitionQuery = None, symbol: PartitionQuery = None,
                         limit: Annotated[int, Query(ge=1, le=10_000, description="rows per page")] = 1000,
                         offset: Annotated[int, Query(ge=0, le=10_000_000, description="rows to skip")] = 0,
                         ) -> Any:
    """What the lake's downloaded trees hold per series, a page at a time (``X-Total-Count`` says how
    many rows match). Served from an inventory at most a few seconds old (a committed partition shows
    up within that), refreshed in the background; each page carries an ``ETag``, and a request whose
    ``If-None-Match`` names it is answered 304 without a body."""
    from fastapi.responses import Response
    from starlette.concurrency import run_in_threadpool

    cache = request.app.state.lake_inventory
    # async, so a request never queues for a worker thread; only the very first waits for a scan,
    # and that scan runs in a worker thread, not on the event loop
    snapshot = cache.current() or await run_in_threadpool(cache.snapshot)
    page = snapshot.page(exchange=exchange, market=market, symbol=symbol, offset=offset, limit=limit)
    if page.total == 0:  # only a filter that matches nothing can name something the lake lacks
        snapshot.check_filter(exchange=exchange, market=market, symbol=symbol)  # a typo is a 404, not []
    headers = {"X-Total-Count": str(page.total), "ETag": page.etag}
    if _etag_matches(request.headers.get("if-none-match"), page.etag):
        return Response(status_code=304, headers=headers)
    return Response(page.body, media_type="application/json", headers=headers)


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison of ``If-None-Match`` (a list of tags, or ``*``) with ``etag``."""
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags
