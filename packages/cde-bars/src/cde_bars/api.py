"""REST routes: ``POST /bars/aggregate`` (a task), ``GET /bars/builders``, ``GET /bars/{spec}/…``."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, FastAPI, Query, Request

from cde_bars.requests import AggregateRequest
from cde_core.tasks import TaskContext, TaskInfo


def add_routes(app: FastAPI) -> None:
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
        from cde_bars.aggregate import aggregate_lake, resolve_spec

        resolve_spec(body.bar, body.params)  # reject bad parameters now, as a 4xx, not in the task

        def run(context: TaskContext) -> dict[str, Any]:
            report = aggregate_lake(body, progress=context.progress, cancel=context.cancel)
            return report.model_dump(mode="json")

        info: TaskInfo = request.app.state.tasks.submit("bars.aggregate", body, run, idempotent=True)
        return info

    @router.get("/{spec_id}/{exchange}/{market}/{symbol}")
    def bars(spec_id: str, exchange: str, market: str, symbol: str, start: date | None = None,
             end: date | None = None, limit: int = Query(1000, ge=1, le=100_000)) -> list[dict[str, Any]]:
        """Bars of one symbol (first ``limit`` rows in the range) as JSON records."""
        from cde_bars.reader import read_bars
        from cde_core.config import get_config
        from cde_core.lake import Lake

        frame = read_bars(Lake(get_config().data_root), spec_id, exchange, market, [symbol], start, end,
                          index="ts")
        records: list[dict[str, Any]] = frame.head(limit).reset_index().to_dict(orient="records")
        for record in records:
            for key, value in record.items():
                if hasattr(value, "isoformat"):
                    record[key] = value.isoformat()
        return records

    app.include_router(router)
