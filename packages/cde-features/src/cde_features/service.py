"""Service functions behind ``cde features compute|analyze`` and the ``/features`` API (same models)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cde_core.config import get_config
from cde_core.errors import DataError
from cde_core.json_types import JsonDate, JsonInt, bounded_json_int
from cde_core.lake import Lake, LakeName
from cde_core.lake_location import LakePath
from cde_core.progress import CancelToken, ProgressCallback, scaled
from cde_core.schemas import BAR_INTERVAL_ATTR
from cde_core.suggest import did_you_mean
from cde_features.feature_set import FeatureSet
from cde_features.lake_io import (
    empty_window,
    read_bars_panel,
    read_features,
    refuse_to_shrink,
    utc_start,
    write_features,
)
from cde_features.perp_inputs import attach_lake_inputs


class BarsSource(BaseModel):
    """Which bars to read; the base of the ``/features`` request bodies, so its fields (and those of
    the subclasses) accept exactly the JSON types the schema names: no ``0`` for a date."""

    model_config = ConfigDict(extra="forbid")

    bars: LakeName = Field(description="bars spec id in the lake (bars/spec=<id>)")
    exchange: LakeName = Field("binance", description="exchange partition")
    market: LakeName = Field("spot", description="market partition")
    symbols: list[LakeName] = Field(default_factory=list, description="symbols; empty = every symbol with bars")
    start: JsonDate | None = Field(None, description="first day of output, inclusive (UTC)")
    end: JsonDate | None = Field(None, description="last day of output, inclusive (UTC)")

    @model_validator(mode="after")
    def _ordered(self) -> BarsSource:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class ComputeRequest(BarsSource):
    feature_set: LakeName | FeatureSet = Field("default", description="a feature set name (`default`) or the set "
                                          "itself: {name, factors: [{factor, params}]}, as in a feature-set file")
    factors: list[str] = Field(default_factory=list, description="keep only these factor names, groups or "
                               "globs (a registered factor outside the set joins by name); empty = the whole set")
    params: dict[str, dict[str, Any]] = Field(default_factory=dict, description="param overrides per factor "
                                              "name, e.g. {\"rsi\": {\"window\": 21}}")
    out_spec: LakeName | None = Field(None, description="features spec id; default <feature-set-id>__<bars>")


class ComputeResult(BaseModel):
    spec: str
    feature_set_id: str
    columns: list[str]
    symbols: list[str]
    rows: int
    files: list[str]
    notices: list[str] = Field(default_factory=list, description="what the range did not give: days past the "
                               "bars, symbols without bars, columns NaN on every row")


#: longest forward horizon (bars): ten years of hourly bars; anything longer leaves no sample to rank
MAX_HORIZON = 100_000


class AnalyzeRequest(BarsSource):
    features: LakeName | None = Field(None, description="features spec to read; none = compute from the bars")
    columns: list[str] = Field(default_factory=list, description="columns or globs to analyse")
    horizons: list[bounded_json_int(ge=1, le=MAX_HORIZON)] = Field(  # type: ignore[valid-type]
        default_factory=lambda: [1, 24, 168], min_length=1, max_length=32,
        description=f"forward horizons in bars, 1 to {MAX_HORIZON}")
    quantiles: JsonInt = Field(5, ge=2, le=20, description="number of quantiles")


def _window(frame: pd.DataFrame, start: date | None, end: date | None) -> pd.DataFrame:
    ts = frame.index.get_level_values(0)
    keep = pd.Series(True, index=frame.index)
    if start is not None:
        keep &= ts >= pd.Timestamp(utc_start(start))
    if end is not None:
        keep &= ts < pd.Timestamp(utc_start(end + timedelta(days=1)))
    return frame[keep.to_numpy()]


def _no_bars_between(lake: Lake, request: ComputeRequest | AnalyzeRequest, panel: pd.DataFrame) -> DataError:
    symbols = sorted({str(s) for s in panel.index.get_level_values(1)})
    return empty_window(lake, request.bars, request.exchange, request.market, symbols, request.start, request.end)


def compute_to_lake(request: ComputeRequest, *, lake: Lake | None = None, progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None) -> ComputeResult:
    """Read bars (all history up to ``end``, so warm-up uses earlier bars), compute the feature set,
    keep rows in [start, end] and write one features partition per symbol."""
    from cde_features.calculator import UnifiedFeatureCalculator
    from cde_features.compute_notices import compute_notices

    report = progress or (lambda f, m: None)
    lake = lake or Lake(get_config().data_root)
    calc = UnifiedFeatureCalculator(request.feature_set, select=request.factors or None,
                                    params=request.params or None)
    report(0.0, "reading bars")
    panel = read_bars_panel(lake, request.bars, request.exchange, request.market, request.symbols or None,
                            end=request.end)
    window = _window(panel, request.start, request.end)
    if window.empty:  # before computing ~170 factors for nothing
        raise _no_bars_between(lake, request, panel)
    spec = request.out_spec or f"{calc.id}__{request.bars}"
    refuse_to_shrink(lake, spec, request.exchange, request.market,  # the symbols this run rewrites
                     sorted({str(s) for s in window.index.get_level_values(1)}), request.start, request.end)
    panel = attach_lake_inputs(panel, lake, calc.factors, bars=request.bars, exchange=request.exchange,
                               market=request.market)
    from cde_core.executors import create_executor

    executor = create_executor(get_config().executor)  # one for computing and writing, closed here
    try:
        features = _window(calc.compute(panel, progress=scaled(report, 0.05, 0.8), cancel=cancel,
                                        executor=executor), request.start, request.end)
        if features.empty:
            raise _no_bars_between(lake, request, panel)
        extra = {"feature_set": calc.id, "bars_spec": request.bars,
                 "factors": [r.manifest() for r in calc.factors],
                 "start": str(request.start) if request.start else None,
                 "end": str(request.end) if request.end else None}
        files = write_features(features, lake, spec=spec, exchange=request.exchange, market=request.market,
                               source=f"bars/spec={request.bars}", extra=extra,
                               progress=scaled(report, 0.8, 1.0), executor=executor)
    finally:
        executor.close()
    symbols = sorted({str(s) for s in features.index.get_level_values(1)})
    return ComputeResult(spec=spec, feature_set_id=calc.id, columns=calc.columns, symbols=symbols,
                         rows=len(features), files=[str(f) for f in files],
                         notices=compute_notices(panel, features, request.start, request.end))


def check_compute(request: ComputeRequest, lake: Lake | None = None) -> None:
    """Refuse now what the task would fail on (unknown feature set, factor or parameter; with ``lake``,
    a bars spec, exchange, market or symbol that is not there): the API answers 4xx at submit, naming
    the nearest names, instead of a task that fails later."""
    from cde_features.calculator import UnifiedFeatureCalculator

    UnifiedFeatureCalculator(request.feature_set, select=request.factors or None, params=request.params or None)
    if lake is not None:
        check_bars_held(request, lake)


def check_bars_held(request: BarsSource, lake: Lake) -> None:
    """The bars spec, exchange, market and symbols a request reads are in the lake, with bars in its
    date range: a 404 naming the nearest names (or the span held) instead of a task that fails later."""
    from cde_core.lake_names import check_hive_path, check_span_held

    folder = check_hive_path(lake.root / "bars", ("spec", request.bars), ("exchange", request.exchange),
                             ("market", request.market), ("symbol", list(request.symbols or [])))
    check_span_held(folder, request.symbols, request.start, request.end, what="bars",
                    where=f"bars/spec={request.bars}")


def selected_columns(request: AnalyzeRequest, available: list[str]) -> list[str]:
    """The columns of ``available`` the request's ``columns`` (names or globs) select, or the one-line
    error naming the nearest columns when none matches."""
    import fnmatch

    columns = [c for c in available if not request.columns or any(fnmatch.fnmatchcase(c, g) for g in request.columns)]
    where = f"features {request.features or 'computed'}"
    if not columns and not request.columns:
        raise DataError("no feature columns", where=where, hint="compute the features first (`cde features compute`)")
    if not columns:
        raise DataError(f"no feature column matches {', '.join(request.columns)}", where=where,
                        hint=did_you_mean(request.columns[0], available, what="columns"))
    return columns


def check_analyze(request: AnalyzeRequest, lake: Lake | None = None) -> None:
    """As :func:`check_compute`, for an analysis: the columns it computes from the bars, or (with
    ``lake``) the features spec it reads; and with ``lake`` the bars it reads, as for a compute."""
    from cde_core.lake_names import check_hive_path
    from cde_features.calculator import UnifiedFeatureCalculator

    if not request.features:
        UnifiedFeatureCalculator(select=request.columns or None)
    if lake is not None:
        check_bars_held(request, lake)
        if request.features:
            folder = check_hive_path(lake.root / "features", ("spec", request.features),
                                     ("exchange", request.exchange), ("market", request.market))
            # the stored columns, from the files' schema (no rows read): a misspelt column is a 404 now
            stored = [c for c in lake.hive_dataset(folder).schema.names if c not in ("ts", "symbol")]
            selected_columns(request, stored)


def analyze_request(request: AnalyzeRequest, *, lake: Lake | None = None, report_path: LakePath | None = None,
                    progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
                    self_contained: bool = False) -> Any:
    """Run a factor analysis; returns the :class:`~cde_features.analysis.analyzer.FactorAnalysis`.

    ``report_path`` (the CLI's ``--report``) is deliberately not part of the request model: a path from
    an API body would let a client write files anywhere the server can. The report loads plotly.js
    from a shared copy (the lake's ``assets/`` when written inside the lake, else one beside the
    report); ``self_contained`` inlines it."""

    from cde_features.analysis.analyzer import analyze_factors
    from cde_features.calculator import UnifiedFeatureCalculator

    report = progress or (lambda f, m: None)
    lake = lake or Lake(get_config().data_root)
    panel = read_bars_panel(lake, request.bars, request.exchange, request.market, request.symbols or None,
                            end=request.end)
    if request.features:
        features = read_features(lake, request.features, request.exchange, request.market)
        if request.symbols:
            features = features[features.index.get_level_values(1).isin(request.symbols)]
    else:
        calc = UnifiedFeatureCalculator(select=request.columns or None)
        inputs = attach_lake_inputs(panel, lake, calc.factors, bars=request.bars, exchange=request.exchange,
                                    market=request.market)
        features = calc.compute(inputs, progress=scaled(report, 0.0, 0.7), cancel=cancel)
    features = _window(features, request.start, request.end)
    if features.empty:
        raise _no_bars_between(lake, request, panel)
    columns = selected_columns(request, list(features.columns))
    close = panel["close"].reindex(features.index)
    report(0.7, "analysing")
    result = analyze_factors(features, close, columns=columns, horizons=request.horizons,
                             quantiles=request.quantiles, bar_interval=panel.attrs.get(BAR_INTERVAL_ATTR))
    if report_path is not None:
        from cde_core.atomic import atomic_write_bytes
        from cde_core.visual.plotly_asset import PlotlyScript
        from cde_features.analysis.report import render_html

        plotly = PlotlyScript.inline() if self_contained else PlotlyScript.beside(report_path, lake.root)
        atomic_write_bytes(report_path, render_html(result, note=f"bars spec {request.bars}",
                                                    plotly=plotly).encode())
    report(1.0, "done")
    return result
