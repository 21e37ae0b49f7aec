"""``/features`` REST routes; long work runs as tasks (``app.state.tasks``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from cde_core.tasks import TaskContext
from cde_features.service import AnalyzeRequest, ComputeRequest

router = APIRouter(prefix="/features", tags=["features"])


@router.get("/factors")
def list_factors() -> list[dict[str, Any]]:
    """Registered factors with their group, inputs, summary and providing plugin."""
    from cde_core.plugins import get_plugins

    return [{"name": e.name, "group": getattr(e.obj, "group", ""), "inputs": list(getattr(e.obj, "inputs", ())),
             "summary": e.summary, "plugin": e.plugin, "distribution": e.distribution,
             "params_schema": e.obj.Params.model_json_schema()} for e in get_plugins().factors]


@router.post("/compute", status_code=202)
def compute(body: ComputeRequest, request: Request) -> Any:
    """Compute a feature set into the features lake (a task)."""
    from cde_features.service import check_compute, compute_to_lake

    lake = request.app.state.lake
    check_compute(body, lake)  # 4xx now, not a failed task
    def run(ctx: TaskContext) -> Any:
        return compute_to_lake(body, lake=lake, progress=ctx.progress, cancel=ctx.cancel).model_dump()

    return request.app.state.tasks.submit("features.compute", body, run)


@router.post("/analyze", status_code=202)
def analyze(body: AnalyzeRequest, request: Request) -> Any:
    """Factor analysis (a task); the result holds the summary table rows."""
    from cde_features.service import analyze_request, check_analyze

    lake = request.app.state.lake
    check_analyze(body, lake)  # 4xx now, not a failed task
    def run(ctx: TaskContext) -> Any:
        result = analyze_request(body, lake=lake, progress=ctx.progress, cancel=ctx.cancel)
        return result.table().to_dict(orient="records")

    return request.app.state.tasks.submit("features.analyze", body, run)
