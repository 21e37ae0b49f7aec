"""Parameter sweeps: one backtest per grid combination, run as executor jobs (local or Dask), then a
summary table and a heat map of one metric over the first two grid keys."""

from __future__ import annotations

import itertools
import math
import uuid
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cde_backtest.flat_run import FlatRunError
from cde_backtest.request_file import build_request
from cde_core.atomic import atomic_write_bytes
from cde_core.lake import Lake
from cde_core.parquet_encoding import write_parquet
from cde_core.progress import CancelToken, ProgressCallback
from cde_core.visual.plotly_asset import PlotlyScript


class SweepRequest(BaseModel):
    """``base``: a BacktestRequest mapping; ``grid``: dotted key → list of values."""

    model_config = ConfigDict(extra="forbid")

    base: dict[str, Any] = Field(description="the request every combination starts from")
    grid: dict[str, list[Any]] = Field(min_length=1, description="dotted key → values, e.g. params.n_long: [2, 3]")
    metric: str = Field("sharpe", description="metric shown in the heat map")

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        """Checked before any run: a misspelt metric used to fail after the whole grid had run."""
        from cde_backtest.metrics import Metrics
        from cde_core.suggest import did_you_mean

        if value not in Metrics.model_fields:
            raise ValueError(f"no metric '{value}' — {did_you_mean(value, Metrics.model_fields, what='metrics')}")
        return value


class SweepRow(BaseModel):
    """One combination. A combination that never held a position has no run and no metrics (NaN),
    and ``note`` says why: one flat corner of a grid is a result of the sweep, not its failure."""

    values: dict[str, Any]
    run_id: str | None
    total_return: float
    sharpe: float
    max_drawdown: float
    metric: float
    note: str | None = None


class SweepResult(BaseModel):
    sweep_id: str
    rows: list[SweepRow]
    summary: str
    heatmap: str


def sweep_job(request_data: dict[str, Any], lake_root: str) -> dict[str, Any]:
    """One combination (module level and plain arguments, so any executor can pickle it)."""
    from cde_backtest.metrics import Metrics
    from cde_backtest.models import BacktestRequest
    from cde_backtest.service import run_backtest

    try:
        result = run_backtest(BacktestRequest.model_validate(request_data), Lake(lake_root))
    except FlatRunError as exc:
        return {"run_id": None, "note": exc.what, **dict.fromkeys(Metrics.model_fields, math.nan)}
    return {"run_id": result.run_id, "note": None, **result.metrics.model_dump()}


def run_sweep(request: SweepRequest, lake: Lake, *, progress: ProgressCallback | None = None,
              cancel: CancelToken | None = None) -> SweepResult:
    from cde_core.config import get_config
    from cde_core.contracts.executor import Job
    from cde_core.executors import create_executor

    keys = list(request.grid)
    combos = list(itertools.product(*(request.grid[k] for k in keys)))
    jobs = []
    for combo in combos:
        values = dict(zip(keys, combo, strict=True))
        req = build_request(request.base, values, where="sweep grid")  # validate every combination up front
        jobs.append(Job(key=",".join(f"{k}={v}" for k, v in values.items()), fn=sweep_job,
                        args=(req.model_dump(mode="json"), str(lake.root))))
    executor = create_executor(get_config().executor)
    try:
        outputs = executor.run(jobs, progress=progress, cancel=cancel)
    finally:
        executor.close()
    rows = [SweepRow(values=dict(zip(keys, combo, strict=True)), run_id=out["run_id"],
                     total_return=out["total_return"], sharpe=out["sharpe"], max_drawdown=out["max_drawdown"],
                     metric=out[request.metric], note=out["note"]) for combo, out in zip(combos, outputs, strict=True)]
    if all(row.run_id is None for row in rows):
        raise FlatRunError(f"no combination of the sweep grid held a position ({rows[0].note})",
                           where="sweep grid", hint="widen the base request's start/end or change the grid")
    sweep_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    folder = lake.root / "sweeps" / sweep_id
    frame = pd.DataFrame([{**{k: str(v) for k, v in r.values.items()}, "run_id": r.run_id,
                           "total_return": r.total_return, "sharpe": r.sharpe, "max_drawdown": r.max_drawdown,
                           request.metric: r.metric, "note": r.note} for r in rows])
    summary = folder / "summary.parquet"
    write_parquet(summary, pa.Table.from_pandas(frame, preserve_index=False))  # the lake's codec
    heatmap = folder / "heatmap.html"
    atomic_write_bytes(heatmap, _heatmap_html(frame, keys, request.metric,
                                              PlotlyScript.beside(heatmap, lake.root)).encode())
    return SweepResult(sweep_id=sweep_id, rows=rows, summary=str(summary), heatmap=str(heatmap))


def _heatmap_html(frame: pd.DataFrame, keys: list[str], metric: str, plotly: PlotlyScript) -> str:
    """The sweep's heat map, loading plotly.js from the lake's shared copy."""
    import plotly.graph_objects as go

    from cde_core.visual.page import Chart, Page

    if len(keys) >= 2:
        table = frame.pivot_table(index=keys[0], columns=keys[1], values=metric, aggfunc="mean",
                                   dropna=False)  # a flat combination stays a blank cell
        fig = go.Figure(go.Heatmap(z=table.to_numpy(), x=[str(c) for c in table.columns],
                                   y=[str(i) for i in table.index], colorscale="RdYlGn",
                                   texttemplate="%{z:.3f}"))
        fig.update_layout(xaxis_title=keys[1], yaxis_title=keys[0])
    else:
        fig = go.Figure(go.Bar(x=frame[keys[0]].astype(str), y=frame[metric]))
        fig.update_layout(xaxis_title=keys[0])
    title = f"{metric} by {' × '.join(keys[:2])}"
    return Page(title=f"sweep: {title}", blocks=[Chart("sweep", title, fig)]).render(plotly)


__all__ = ["SweepRequest", "SweepResult", "run_sweep", "sweep_job"]
