"""The unified feature calculator: a bars panel (many symbols) → one feature matrix.

Time-series factors run per symbol as executor jobs (Numba kernels release the GIL, so the default
thread pool runs symbols in parallel); cross-sectional factors then run on (time × symbol) grids.
Warm-up rows (the first ``lookback`` bars of each symbol for each factor) are NaN, ±inf becomes NaN,
and no row is dropped or filled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cde_core.config import get_config
from cde_core.contracts.executor import Executor, Job
from cde_core.errors import DataError
from cde_core.executors import create_executor
from cde_core.plugins import PluginHost
from cde_core.progress import CancelToken, ProgressCallback, scaled
from cde_features.feature_set import FeatureSet, ResolvedFactor, feature_set_id, resolve

#: (factor, params as a dict, lookback, number of columns) — picklable for process / Dask executors
TaskSpec = tuple[Any, dict[str, Any], int, int]


def _symbol_features(specs: Sequence[TaskSpec], data: Mapping[str, np.ndarray], ts: np.ndarray) -> np.ndarray:
    """All time-series factors of one symbol → array (columns, bars). Runs inside executor jobs."""
    n = len(ts)
    total = sum(s[3] for s in specs)
    out = np.empty((total, n))
    row = 0
    frame: pd.DataFrame | None = None
    for factor, raw_params, lookback, width in specs:
        params = factor.Params.model_validate(raw_params)
        if hasattr(factor, "compute_arrays"):
            values = factor.compute_arrays(data, params)
        else:  # a third-party factor: the protocol's DataFrame interface
            if frame is None:
                frame = pd.DataFrame(dict(data), index=pd.DatetimeIndex(ts, name="ts").tz_localize("UTC"))
            result = factor.compute(frame, params)
            values = [result[c].to_numpy(dtype=np.float64) for c in factor.columns(params)]
        if len(values) != width:
            raise DataError(f"factor {factor.name} returned {len(values)} columns, expected {width}")
        for v in values:
            out[row] = v
            row += 1
        out[row - width:row, :min(lookback, n)] = np.nan
    out[~np.isfinite(out)] = np.nan
    return out


class UnifiedFeatureCalculator:
    """Compute a feature set over a bars panel indexed by ``(ts, symbol)``.

    ``select`` picks factors by name, group or glob (see :func:`cde_features.feature_set.resolve`);
    ``params`` overrides parameters per factor name.
    """

    def __init__(self, feature_set: str | FeatureSet = "default", *, select: Sequence[str] | None = None,
                 params: Mapping[str, Mapping[str, Any]] | None = None, executor: Executor | None = None,
                 host: PluginHost | None = None) -> None:
        self.feature_set = feature_set
        self.factors: list[ResolvedFactor] = resolve(feature_set, select=select, params=params, host=host)
        self.id = feature_set_id(feature_set, self.factors, host=host)
        self._executor = executor

    @property
    def columns(self) -> list[str]:
        return [c for r in self.factors for c in r.columns]

    @property
    def lookback(self) -> int:
        """The longest warm-up of the selected factors, in bars."""
        return max((r.lookback for r in self.factors), default=0)

    @property
    def inputs(self) -> list[str]:
        cols: list[str] = []
        for r in self.factors:
            for c in getattr(r.factor, "inputs", ()):
                if c not in cols:
                    cols.append(c)
        return cols

    # -- compute ---------------------------------------------------------------------------------
    def compute(self, panel: pd.DataFrame, *, progress: ProgressCallback | None = None,
                cancel: CancelToken | None = None) -> pd.DataFrame:
        panel = _checked_panel(panel, self.inputs)
        report = progress or (lambda fraction, message: None)
        ts_level = panel.index.get_level_values(0)
        sym_codes, symbols = pd.factorize(panel.index.get_level_values(1), sort=True)
        order = np.argsort(sym_codes, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(sym_codes, minlength=len(symbols)))])
        columns = self.columns
        out = np.full((len(columns), len(panel)), np.nan)
        col_of = {c: i for i, c in enumerate(columns)}

        series_factors = [r for r in self.factors if not r.cross_sectional]
        panel_factors = [r for r in self.factors if r.cross_sectional]
        specs = [(r.factor, r.params.model_dump(), r.lookback, len(r.columns)) for r in series_factors]
        rows = [col_of[c] for r in series_factors for c in r.columns]
        if specs:
            inputs = sorted({c for r in series_factors for c in getattr(r.factor, "inputs", ())})
            arrays = {c: panel[c].to_numpy(dtype=np.float64) for c in inputs}
            ts_values = np.asarray(ts_level.tz_convert("UTC").tz_localize(None).values)
            jobs = []
            for k, symbol in enumerate(symbols):
                pos = order[bounds[k]:bounds[k + 1]]
                data = {c: np.ascontiguousarray(a[pos]) for c, a in arrays.items()}
                jobs.append(Job(str(symbol), _symbol_features, (specs, data, ts_values[pos])))
            executor = self._executor or create_executor(get_config().executor)
            share = 0.85 if panel_factors else 1.0
            results = executor.run(jobs, progress=scaled(report, 0.0, share), cancel=cancel)
            row_idx = np.asarray(rows)
            for k, result in enumerate(results):
                pos = order[bounds[k]:bounds[k + 1]]
                out[np.ix_(row_idx, pos)] = result
        if panel_factors:
            self._compute_panel(panel, panel_factors, out, col_of, sym_codes, order, bounds, report, cancel)
        report(1.0, "done")
        return pd.DataFrame(out.T, index=panel.index, columns=pd.Index(columns), copy=False)

    def _compute_panel(self, panel: pd.DataFrame, factors: list[ResolvedFactor], out: np.ndarray,
                       col_of: dict[str, int], sym_codes: np.ndarray, order: np.ndarray, bounds: np.ndarray,
                       report: ProgressCallback, cancel: CancelToken | None) -> None:
        ts_codes, _ = pd.factorize(panel.index.get_level_values(0), sort=True)
        shape = (int(ts_codes.max()) + 1 if len(ts_codes) else 0, len(bounds) - 1)
        # position of each row within its symbol's own history: the warm-up mask of panel factors
        seq = np.empty(len(panel), dtype=np.int64)
        for k in range(len(bounds) - 1):
            seq[order[bounds[k]:bounds[k + 1]]] = np.arange(bounds[k + 1] - bounds[k])
        grids: dict[str, np.ndarray] = {}
        finished = {c for r in self.factors if not r.cross_sectional for c in r.columns}

        def grid_of(col: str) -> np.ndarray:
            if col not in grids:
                values = out[col_of[col]] if col in col_of else panel[col].to_numpy(dtype=np.float64)
                grid = np.full(shape, np.nan)
                grid[ts_codes, sym_codes] = values
                grids[col] = grid
            return grids[col]

        executor = self._executor or create_executor(get_config().executor)
        pending = list(factors)
        done = 0
        while pending:
            if cancel is not None:
                cancel.raise_if_cancelled("features")
            # a wave: every factor whose inputs are bar columns or columns computed in earlier waves
            ready = [r for r in pending if _panel_inputs(r) <= (set(panel.columns) | finished)]
            if not ready:
                missing = sorted(_panel_inputs(pending[0]) - set(panel.columns) - finished)
                raise DataError(f"factor {pending[0].name} needs column(s) {', '.join(missing)}")
            pending = [r for r in pending if r not in ready]
            fast = [r for r in ready if hasattr(r.factor, "compute_grid")]
            jobs = [Job(r.name, _panel_job, (r.factor, r.params.model_dump(),
                                             {c: grid_of(c) for c in r.factor.grid_inputs(r.params)}))
                    for r in fast]
            results = executor.run(jobs, cancel=cancel) if jobs else []
            outputs = dict(zip([id(r) for r in fast], results, strict=True))
            for r in ready:
                if id(r) in outputs:
                    values = [g[ts_codes, sym_codes] for g in outputs[id(r)]]
                else:  # a third-party panel factor: the protocol's DataFrame interface
                    frame = panel.copy()
                    for c in col_of:
                        frame[c] = out[col_of[c]]
                    result = r.factor.compute(frame, r.params)
                    values = [result[c].to_numpy(dtype=np.float64) for c in r.columns]
                mask = seq < r.lookback
                for c, v in zip(r.columns, values, strict=True):
                    v = np.where(np.isfinite(v), v, np.nan)
                    v[mask] = np.nan
                    out[col_of[c]] = v
                    grids.pop(c, None)
                finished.update(r.columns)
                done += 1
                report(0.85 + 0.15 * done / len(factors), r.name)


def _panel_inputs(r: ResolvedFactor) -> set[str]:
    if hasattr(r.factor, "grid_inputs"):
        return set(r.factor.grid_inputs(r.params))
    return set(getattr(r.factor, "inputs", ()))


def _panel_job(factor: Any, raw_params: dict[str, Any], grids: dict[str, np.ndarray]) -> list[np.ndarray]:
    """One panel factor on its input grids (runs inside executor jobs; kernels release the GIL)."""
    return list(factor.compute_grid(grids, factor.Params.model_validate(raw_params)))


def _checked_panel(panel: pd.DataFrame, inputs: Sequence[str]) -> pd.DataFrame:
    if not isinstance(panel.index, pd.MultiIndex) or panel.index.nlevels != 2:
        raise DataError("the bars panel must be indexed by (ts, symbol)",
                        hint="panel.set_index(['ts', 'symbol']).sort_index()")
    missing = [c for c in inputs if c not in panel.columns]
    if missing:
        raise DataError(f"the bars panel lacks column(s) {', '.join(missing)}",
                        hint="pass bars in cde_core.schemas.BARS_SCHEMA")
    if not panel.index.is_monotonic_increasing:
        panel = panel.sort_index()
    if panel.index.has_duplicates:
        dup = panel.index[panel.index.duplicated()][0]
        raise DataError(f"the bars panel has duplicate rows, e.g. {dup}", hint="deduplicate the bars first")
    return panel


def compute_features(panel: pd.DataFrame, factors: Sequence[str] | None = None,
                     params: Mapping[str, Mapping[str, Any]] | None = None, *,
                     feature_set: str | FeatureSet = "default", executor: Executor | None = None,
                     progress: ProgressCallback | None = None) -> pd.DataFrame:
    """Shortcut: ``UnifiedFeatureCalculator(feature_set, select=factors, params=params).compute(panel)``."""
    calc = UnifiedFeatureCalculator(feature_set, select=factors, params=params, executor=executor)
    return calc.compute(panel, progress=progress)
