"""REST routes under ``/backtest`` (FastAPI is imported only here).

Runs execute as tasks through ``app.state.tasks`` (:class:`cde_core.tasks.TaskSubmitter`); the
routes only parse, submit and read run folders.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from cde_backtest.models import BacktestRequest, RunSummary
from cde_core.lake import SAFE_VALUE_PATTERN, Lake
from cde_core.tasks import TaskContext, TaskInfo

# ids carry safe_value's rule in the schema, so every id it calls valid is one Lake.run_dir accepts
RunIdPath = Annotated[str, Path(description="run id", pattern=SAFE_VALUE_PATTERN, max_length=200)]
TaskIdPath = Annotated[str, Path(description="task id", pattern=SAFE_VALUE_PATTERN, max_length=64)]


def _lake(request: Request) -> Lake:
    """The app's lake (``app.state.lake``, set by the app factory from its config)."""
    lake: Lake = request.app.state.lake
    return lake


def _components(kind: str) -> list[dict[str, Any]]:
    from cde_core.plugins import get_plugins

    return [{"name": e.name, "summary": e.summary, "distribution": e.distribution,
             "engine": getattr(e.obj, "engine", None), "params_schema": e.obj.Params.model_json_schema()}
            for e in get_plugins().registry(kind).entries()]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/backtest", tags=["backtest"])

    @router.post("/runs", response_model=TaskInfo, status_code=202)
    def submit(body: BacktestRequest, request: Request) -> TaskInfo:
        """Validate names and parameters now (4xx on mistakes), then run as a task."""
        from cde_backtest.service import check_inputs, resolve, run_backtest

        resolve(body)
        lake = _lake(request)
        check_inputs(body, lake)

        def run(ctx: TaskContext) -> dict[str, Any]:
            from cde_backtest.run_store import _json_safe

            result = run_backtest(body, lake, progress=ctx.progress, cancel=ctx.cancel)
            return _json_safe(result.model_dump(mode="json"))  # ±inf metrics as "inf", as GET /runs/{id}

        return request.app.state.tasks.submit("backtest", body, run)

    @router.get("/tasks/{task_id}", response_model=TaskInfo)
    def status(task_id: TaskIdPath, request: Request) -> TaskInfo:
        return request.app.state.tasks.get(task_id)

    @router.get("/runs", response_model=list[RunSummary])
    def list_runs(request: Request) -> list[RunSummary]:
        from cde_backtest.run_store import RunStore

        return RunStore(_lake(request)).list()

    @router.get("/runs/{run_id}")
    def result(run_id: RunIdPath, request: Request) -> dict[str, Any]:
        from cde_backtest.run_store import RunStore, _json_safe

        store = RunStore(_lake(request))
        return {"run_id": run_id, "config": store.config(run_id),
                "metrics": _json_safe(store.metrics(run_id).model_dump())}

    @router.delete("/runs/{run_id}", status_code=204)
    def delete(run_id: RunIdPath, request: Request) -> None:
        from cde_backtest.run_store import RunStore

        RunStore(_lake(request)).delete(run_id)

    @router.get("/runs/{run_id}/report", response_class=HTMLResponse)
    def report(run_id: RunIdPath, request: Request) -> HTMLResponse:
        """The run's stored report.html; its plotly.js comes from this server (``/visual/assets/…``)
        instead of the lake's ``assets/`` folder, which a browser cannot reach over HTTP."""
        from cde_backtest.run_store import RunStore
        from cde_core.visual.plotly_asset import ASSET_FOLDER, SERVER_ASSET_PREFIX

        page = RunStore(_lake(request)).file(run_id, "report.html").read_text()
        lake_script, server_script = f'<script src="../../{ASSET_FOLDER}/', f'<script src="{SERVER_ASSET_PREFIX}'
        return HTMLResponse(page.replace(lake_script, server_script, 1))

    @router.get("/runs/{run_id}/nav")
    def nav(run_id: RunIdPath, request: Request) -> dict[str, Any]:
        """NAV, benchmark and drawdown series for charts."""
        from cde_backtest.run_store import RunStore

        frame = RunStore(_lake(request)).table(run_id, "nav.parquet", columns=["ts", "nav", "benchmark"]).to_pandas()
        drawdown = frame["nav"] / frame["nav"].cummax() - 1.0
        return {"ts": frame["ts"].map(lambda t: t.isoformat()).tolist(), "nav": frame["nav"].tolist(),
                "benchmark": frame["benchmark"].tolist(), "drawdown": drawdown.tolist()}

    @router.get("/strategies")
    def strategies() -> list[dict[str, Any]]:
        return _components("strategies")

    @router.get("/signals")
    def signals() -> list[dict[str, Any]]:
        return _components("signals")

    @router.get("/engines")
    def engines() -> list[dict[str, Any]]:
        return _components("engines")

    return router
