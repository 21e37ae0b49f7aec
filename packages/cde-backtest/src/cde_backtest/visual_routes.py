"""``GET /visual/runs/{run_id}``: a stored run's tear sheet as a page, and its charts and metrics as JSON."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Request
from fastapi.responses import HTMLResponse

from cde_core.lake import SAFE_VALUE_PATTERN
from cde_core.visual.names import lake_name
from cde_core.visual.plotly_asset import PlotlyScript, add_asset_route

RunId = Annotated[str, Path(description="run id", pattern=SAFE_VALUE_PATTERN, max_length=200)]


def _page(request: Request, run_id: str) -> Any:
    from cde_backtest.report import report_page
    from cde_backtest.report.stored import stored_report_inputs
    from cde_backtest.run_store import RunStore

    stored = RunStore(request.app.state.lake).load(lake_name(run_id, what="run id"))
    return stored, report_page(stored_report_inputs(stored))


def add_visual_routes(app: FastAPI) -> None:
    add_asset_route(app)
    router = APIRouter(prefix="/visual/runs", tags=["visual"])

    @router.get("/{run_id}", response_class=HTMLResponse)
    def run_page(run_id: RunId, request: Request) -> HTMLResponse:
        """A stored run's tear sheet, drawn from its folder, loading plotly.js from this server."""
        _, page = _page(request, run_id)
        return HTMLResponse(page.render(PlotlyScript.server()))

    @router.get("/{run_id}/data")
    def run_data(run_id: RunId, request: Request) -> dict[str, Any]:
        """The tear sheet's charts (plotly figure JSON by key) and the run's metrics, for front ends."""
        from cde_backtest.run_store import _json_safe

        stored, page = _page(request, run_id)
        return {"run_id": run_id, "title": page.title, "subtitle": page.subtitle,
                "metrics": _json_safe(stored.metrics.model_dump()), "charts": page.charts()}

    app.include_router(router)
