"""REST routes: ``POST /bars/aggregate`` (a task), ``GET /bars/builders``, ``GET /bars/{spec}/…``."""

from __future__ import annotations

import functools
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query, Request

from cde_bars.requests import AggregateRequest
from cde_core.lake import SAFE_VALUE_PATTERN, Lake
from cde_core.tasks import TaskContext, TaskInfo

AGGREGATE_TASK = "bars.aggregate"

#: a bars spec id or lake partition value: the schema carries safe_value's rule, so every name it
#: calls valid is one the lake accepts (and the rest get 422 before the route runs)
PartitionPath = Annotated[str, Path(pattern=SAFE_VALUE_PATTERN, max_length=200)]


def aggregate_task(lake: Lake, params: dict[str, Any], context: TaskContext) -> dict[str, Any]:
    """One aggregation from its stored JSON params: what ``POST /bars/aggregate`` submits and what a
    restarted server re-runs (aggregation resumes from the last complete month)."""
    from cde_bars.aggregate import aggregate_lake

    report = aggregate_lake(AggregateRequest.model_validate(params), lake, progress=context.progress,
                            cancel=context.cancel)
    return report.model_dump(mode="json")


def add_routes(app: FastAPI) -> None:
    """Mount ``/bars`` and register the aggregation handler, so an interrupted aggregation (submitted
    ``idempotent=True``) is re-queued after a restart instead of failed."""
    app.state.tasks.register_handler(AGGREGATE_TASK, functools.partial(aggregate_task, app.state.lake))
    router = APIRouter(prefix="/bars", tags=["bars"])

    @router.get("/builders")
    def list_builders() -> list[dict[str, Any]]:
        """Registered bar builders with the JSON schema of their parameters."""
        from cde_core.plugins import get_plugins

        return [{"name": e.name, "summary": e.summary, "distribution": e.distribution,
                 "params": e.obj.Params.model_json_schema()} for e in get_plugins().bar_builders]

    @router.post("/aggregate", status_code=202)
    def aggregate(body: AggregateRequest, request: Request) -> TaskInfo:
        """Start aggregating the trades lake into bars; poll the returned task for progress."""
        from cde_bars.aggregate import resolve_spec
        from cde_core.lake_names import check_trades_present

        resolve_spec(body.bar, body.params)  # reject bad parameters now, as a 4xx, not in the task
        # and misspelt or absent inputs: a 404 naming the nearest names, not a task that fails later
        check_trades_present(request.app.state.lake, body.exchange, body.market, body.symbols, body.start,
                             body.end)
        run = functools.partial(aggregate_task, request.app.state.lake, body.model_dump(mode="json"))
        info: TaskInfo = request.app.state.tasks.submit(AGGREGATE_TASK, body, run, idempotent=True)
        return info

    @router.get("/{spec_id}/{exchange}/{market}/{symbol}")
    def bars(request: Request, spec_id: PartitionPath, exchange: PartitionPath, market: PartitionPath,
             symbol: PartitionPath, start: date | None = None, end: date | None = None,
             limit: int = Query(1000, ge=1, le=100_000)) -> list[dict[str, Any]]:
        """Bars of one symbol (first ``limit`` rows in the range) as JSON records."""
        from cde_bars.reader import read_bars

        frame = read_bars(request.app.state.lake, spec_id, exchange, market, [symbol], start, end, index="ts")
        records: list[dict[str, Any]] = frame.head(limit).reset_index().to_dict(orient="records")
        for record in records:
            for key, value in record.items():
                if hasattr(value, "isoformat"):
                    record[key] = value.isoformat()
        return records

    app.include_router(router)
