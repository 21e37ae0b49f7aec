"""The unified feature calculator: a bars panel (many symbols) → one feature matrix.

Time-series factors run as executor jobs of a few symbols each (Numba kernels release the GIL, so
the default thread pool runs them in parallel); cross-sectional factors then run on (time × symbol)
grids. Results go into one (columns × rows) matrix in panel order, wrapped as the DataFrame's block.
Warm-up rows (the first ``lookback`` bars of each symbol for each factor) are NaN, ±inf becomes NaN,
and no row is dropped or filled.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cde_core.config import get_config
from cde_core.contracts.executor import Executor, Job
from cde_core.errors import DataError
from cde_core.executors import create_executor
from cde_core.plugins import PluginHost
from cde_core.progress import CancelToken, ProgressCallback, scaled
from cde_features.factor_calls import checked_compute, factor_problem
from cde_features.feature_set import FeatureSet, ResolvedFactor, feature_set_id, resolve

#: (factor, params as a dict, lookback, number of columns) — picklable for process / Dask executors
TaskSpec = tuple[Any, dict[str, Any], int, int]

#: symbols per time-series job: enough jobs to balance the workers, few enough to amortise the
#: per-job overhead; a job computes factor by factor across its symbols, so neighbouring symbols'
#: values land in the same cache lines of the output while they are hot
SYMBOLS_PER_JOB = 8

#: one symbol's inputs, its bars' timestamps (naive UTC) and, when its bars have gaps on the time-bar
#: grid, each bar's slot on the symbol's stretch of the grid (None: no gaps, or no grid)
SymbolInputs = tuple[Mapping[str, np.ndarray], np.ndarray, np.ndarray | None]


def _on_grid(data: Mapping[str, np.ndarray], ts: np.ndarray, slots: np.ndarray
             ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """A symbol's inputs spread over its stretch of the bar grid: a missing bar is a NaN input."""
    size = int(slots[-1]) + 1
    spread = {}
    for c, a in data.items():
        full = np.full(size, np.nan)
        full[slots] = a
        spread[c] = full
    step = (ts[-1] - ts[0]) // int(slots[-1])
    return spread, ts[0] + np.arange(size) * step


def _batch_values(specs: Sequence[TaskSpec], batch: Sequence[SymbolInputs]) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(symbol in batch, column, values)`` for every time-series factor column of a few symbols,
    factor by factor (each symbol's shared intermediates are cached across its factors)."""
    from cde_features.factor_base import SymbolArrays

    spread = [(data, ts) if slots is None else _on_grid(data, ts, slots) for data, ts, slots in batch]
    arrays = [SymbolArrays(data) for data, _ts in spread]
    frames: list[pd.DataFrame | None] = [None] * len(batch)
    row = 0
    for factor, raw_params, _lookback, width in specs:
        params = factor.Params.model_validate(raw_params)
        for b, (data, ts) in enumerate(spread):
            slots = batch[b][2]
            if hasattr(factor, "compute_arrays"):
                values = factor.compute_arrays(arrays[b], params)
            else:  # a third-party factor: the protocol's DataFrame interface
                frame = frames[b]
                if frame is None:
                    index = pd.DatetimeIndex(ts, name="ts").tz_localize("UTC")
                    frame = frames[b] = pd.DataFrame(dict(data), index=index)
                columns = factor.columns(params)
                result = checked_compute(factor, frame, params, columns)
                values = [result[c].to_numpy(dtype=np.float64) for c in columns]
            if len(values) != width:
                raise factor_problem(factor, f"returned {len(values)} columns, expected {width}")
            for j, v in enumerate(values):
                v = np.ascontiguousarray(v, dtype=np.float64)
                if v.shape != (len(ts),):
                    raise factor_problem(factor, f"returned {v.shape} values for {len(ts)} bars")
                yield b, row + j, v if slots is None else v[slots]
        row += width


def _series_block(specs: Sequence[TaskSpec], batch: Sequence[SymbolInputs]) -> np.ndarray:
    """A job: the time-series factors of a few symbols → one raw block (columns, Σ bars), the symbols'
    bars one after the other; warm-up cells and ±inf are masked when the block is scattered."""
    sizes = [len(ts) for _data, ts, _slots in batch]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    out = np.empty((sum(s[3] for s in specs), int(offsets[-1])))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for b, row, v in _batch_values(specs, batch):
            out[row, offsets[b]:offsets[b + 1]] = v
    return out


def _series_into(specs: Sequence[TaskSpec], batch: Sequence[SymbolInputs], out: np.ndarray, rows: np.ndarray,
                 lookbacks: np.ndarray, positions: Sequence[np.ndarray]) -> None:
    """A job for in-process (thread) executors: the same values written straight into the output
    matrix (``positions[b]``: the rows of symbol b), masked on the way; symbols are disjoint cells."""
    from cde_features.kernels.layout import put_values

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for b, row, v in _batch_values(specs, batch):
            put_values(out, rows[row], positions[b], v, lookbacks[row])


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
                cancel: CancelToken | None = None, executor: Executor | None = None,
                bar_interval: str | pd.Timedelta | None = None) -> pd.DataFrame:
        """The feature matrix of ``panel``, indexed like it (sorted by ``(ts, symbol)``).

        The bars are checked first (:func:`cde_features.panel_checks.checked_panel`). Time bars are
        laid out on their grid (``bar_interval``, else ``panel.attrs['bar_interval']`` as the bars
        readers set it): a symbol's missing bar is a NaN input, so no factor bridges a gap. Jobs run
        on ``executor``, else on the calculator's own, else on one created from the config for this
        call (and closed before returning)."""
        from cde_features.panel_checks import bar_interval_of, checked_panel

        self._check_plugin_inputs(panel)  # a plugin factor's inputs the bars lack name the plugin
        panel = checked_panel(panel, self.inputs)
        step = bar_interval_of(panel, bar_interval)
        owned = None
        if executor is None:
            executor = self._executor
        if executor is None:
            executor = owned = create_executor(get_config().executor)
        try:
            out = self._compute(panel, executor, progress or (lambda fraction, message: None), cancel, step)
        finally:
            if owned is not None:
                owned.close()
        return pd.DataFrame(out.T, index=panel.index, columns=pd.Index(self.columns), copy=False)

    def _check_plugin_inputs(self, panel: pd.DataFrame) -> None:
        """A third-party factor declaring an input column no bars have is its fault, named (the
        panel check would say "the bars panel lacks column(s) …" as if the bars were wrong)."""
        from cde_core.plugin_faults import fault_of_object, owner_entry

        if not isinstance(panel, pd.DataFrame):
            return  # not a panel at all: checked_panel says so
        for r in self.factors:
            missing = [c for c in getattr(r.factor, "inputs", ()) if c not in panel.columns]
            entry = owner_entry("factors", r.factor) if missing else None
            if entry is not None and not entry.builtin:
                raise fault_of_object(entry, f"needs the input column(s) {', '.join(missing)}, which the bars do "
                                             f"not have (they have {', '.join(map(str, panel.columns))})")

    def _compute(self, panel: pd.DataFrame, executor: Executor, report: ProgressCallback,
                 cancel: CancelToken | None, step: int | None = None) -> np.ndarray:
        layout = _Layout(panel, step)
        columns = self.columns
        col_of = {c: i for i, c in enumerate(columns)}
        # every cell is written below (series blocks cover each symbol's rows, panel factors the grid)
        out = np.empty((len(columns), len(panel)))

        series_factors = [r for r in self.factors if not r.cross_sectional]
        panel_factors = [r for r in self.factors if r.cross_sectional]
        if series_factors:
            share = 0.85 if panel_factors else 1.0
            self._compute_series(panel, layout, series_factors, out, col_of, executor,
                                 scaled(report, 0.0, share), cancel)
        if panel_factors:
            self._compute_panel(panel, layout, panel_factors, out, col_of, executor, report, cancel)
        report(1.0, "done")
        return out

    def _compute_series(self, panel: pd.DataFrame, layout: _Layout, factors: list[ResolvedFactor],
                        out: np.ndarray, col_of: dict[str, int], executor: Executor,
                        report: ProgressCallback, cancel: CancelToken | None) -> None:
        from cde_features.kernels.layout import scatter_block

        specs = [(r.factor, r.params.model_dump(), r.lookback, len(r.columns)) for r in factors]
        rows = np.asarray([col_of[c] for r in factors for c in r.columns], dtype=np.int64)
        lookbacks = np.asarray([r.lookback for r in factors for _c in r.columns], dtype=np.int64)
        inputs = sorted({c for r in factors for c in getattr(r.factor, "inputs", ())})
        arrays = {c: panel[c].to_numpy(dtype=np.float64) for c in inputs}
        ts_values = layout.ts_naive()
        batches = [range(k, min(k + SYMBOLS_PER_JOB, layout.n_symbols))
                   for k in range(0, layout.n_symbols, SYMBOLS_PER_JOB)]
        in_process = _shares_memory(executor)
        jobs = []
        for batch in batches:
            items = []
            for k in batch:
                pos = layout.rows_of(k)
                items.append(({c: a[pos] for c, a in arrays.items()}, ts_values[pos], layout.slots_of(k)))
            symbols = layout.symbols[batch.start:batch.stop]
            key = f"{symbols[0]}..{symbols[-1]}"
            if in_process:
                positions = [layout.rows_of(k) for k in batch]
                jobs.append(Job(key, _series_into, (specs, items, out, rows, lookbacks, positions)))
            else:
                jobs.append(Job(key, _series_block, (specs, items)))
        results = executor.run(jobs, progress=report, cancel=cancel)
        if in_process:
            return
        for batch, block in zip(batches, results, strict=True):
            pos = np.concatenate([layout.rows_of(k) for k in batch])
            seq = np.concatenate([np.arange(layout.size_of(k)) for k in batch])
            if block.shape != (len(rows), len(pos)):
                raise DataError(f"a time-series job returned a block of shape {block.shape}, "
                                f"expected {(len(rows), len(pos))}")
            scatter_block(out, rows, lookbacks, block, pos, seq, np.argsort(pos, kind="stable"))

    def _compute_panel(self, panel: pd.DataFrame, layout: _Layout, factors: list[ResolvedFactor],
                       out: np.ndarray, col_of: dict[str, int], executor: Executor,
                       report: ProgressCallback, cancel: CancelToken | None) -> None:
        from cde_features.factor_base import PanelGrids

        finished = {c for r in self.factors if not r.cross_sectional for c in r.columns}
        bar_columns = set(panel.columns)
        grids: dict[str, np.ndarray] = {}

        def grid_of(col: str) -> np.ndarray:
            if col in col_of and layout.complete:  # a feature column: a view of its row of out
                return layout.to_grid(out[col_of[col]])
            if col not in grids:
                values = out[col_of[col]] if col in col_of else panel[col].to_numpy(dtype=np.float64)
                grids[col] = layout.to_grid(values)
            return grids[col]

        direct = layout.complete and _shares_memory(executor)
        pending = list(factors)
        done = 0
        while pending:
            if cancel is not None:
                cancel.raise_if_cancelled("features")
            # a wave: every factor whose inputs are bar columns or columns computed in earlier waves
            ready = [r for r in pending if _panel_inputs(r) <= (bar_columns | finished)]
            if not ready:
                missing = sorted(_panel_inputs(pending[0]) - bar_columns - finished)
                raise DataError(f"factor {pending[0].name} needs column(s) {', '.join(missing)}")
            pending = [r for r in pending if r not in ready]
            fast = [r for r in ready if hasattr(r.factor, "compute_grid")]
            jobs = []
            for r in fast:
                grids = PanelGrids({c: grid_of(c) for c in r.factor.grid_inputs(r.params)}, layout.symbols)
                args = (r.factor, r.params.model_dump(), grids)
                if direct:  # the job writes its columns' grids (views of out) itself, in parallel
                    dsts = [layout.to_grid(out[col_of[c]]) for c in r.columns]
                    jobs.append(Job(r.name, _panel_into, (*args, dsts, r.lookback)))
                else:
                    jobs.append(Job(r.name, _panel_job, args))
            results = executor.run(jobs, cancel=cancel) if jobs else []
            outputs = dict(zip([id(r) for r in fast], results, strict=True))
            for r in ready:
                if id(r) in outputs:
                    if not direct:  # (direct jobs wrote their columns already)
                        self._store_grids(r, outputs[id(r)], layout, out, col_of, grids)
                else:  # a third-party panel factor: the protocol's DataFrame interface
                    frame = panel.copy()
                    for c in col_of:
                        frame[c] = out[col_of[c]]
                    result = checked_compute(r.factor, frame, r.params, list(r.columns))
                    for c in r.columns:
                        grids.pop(c, None)
                        out[col_of[c]] = layout.masked(result[c].to_numpy(dtype=np.float64), r.lookback)
                finished.update(r.columns)
                done += 1
                report(0.85 + 0.15 * done / len(factors), r.name)

    @staticmethod
    def _store_grids(r: ResolvedFactor, values: Sequence[np.ndarray], layout: _Layout, out: np.ndarray,
                     col_of: dict[str, int], grids: dict[str, np.ndarray]) -> None:
        """Write a panel factor's output grids into ``out`` (warm-up rows and ±inf → NaN)."""
        from cde_features.kernels.layout import finish_grid

        if len(values) != len(r.columns):
            raise DataError(f"factor {r.name} returned {len(values)} columns, expected {len(r.columns)}")
        for c, grid in zip(r.columns, values, strict=True):
            grids.pop(c, None)
            if layout.complete:
                finish_grid(layout.to_grid(out[col_of[c]]), np.asarray(grid, dtype=np.float64), r.lookback)
            else:
                out[col_of[c]] = layout.masked(layout.from_grid(grid), r.lookback)


class _Layout:
    """Where each symbol's rows are in a panel sorted by ``(ts, symbol)``, and the (time × symbol) grid.

    A *complete* panel (every symbol has a bar at every timestamp — time bars without gaps) is its own
    grid: row ``t · n_symbols + k`` is cell ``(t, k)``, so a column reshapes to the grid without copies.
    With a bar interval (time bars) the time axis is every interval from the first bar to the last,
    so a timestamp no symbol has is still a (NaN) row of the grid.
    """

    def __init__(self, panel: pd.DataFrame, step: int | None = None) -> None:
        index = panel.index
        self.index = index
        self.n_rows = len(panel)
        self.sym_codes, self.symbols = pd.factorize(index.get_level_values(1), sort=True)
        self.n_symbols = len(self.symbols)
        self.step = step
        if step is not None and self.n_rows:
            from cde_features.panel_checks import grid_codes

            times = index.get_level_values(0)
            if not isinstance(times, pd.DatetimeIndex):
                raise DataError(f"a bar interval needs timestamps, the panel's ts level is {times.dtype}",
                                hint="index the bars by (ts, symbol) with ts a datetime")
            ts_ns = times.as_unit("ns").asi8
            self.ts_codes, self.n_times = grid_codes(ts_ns, np.asarray(index.get_level_values(1)), step,
                                                     self.n_symbols)
        else:
            self.ts_codes, ts_uniques = pd.factorize(index.get_level_values(0), sort=True)
            self.n_times = len(ts_uniques)
        self.complete = self.n_rows == self.n_times * self.n_symbols  # sorted and without duplicates
        if not self.complete:
            self.order = np.argsort(self.sym_codes, kind="stable")
            counts = np.bincount(self.sym_codes, minlength=self.n_symbols)
            self.bounds = np.concatenate([[0], np.cumsum(counts)])
            self._seq: np.ndarray | None = None

    def slots_of(self, k: int) -> np.ndarray | None:
        """Symbol k's bars' slots on its stretch of the time grid, or None when it has no gap there."""
        if self.step is None or self.complete:
            return None
        codes = self.ts_codes[self.rows_of(k)]
        if len(codes) == 0 or codes[-1] - codes[0] + 1 == len(codes):
            return None
        return np.asarray(codes - codes[0], dtype=np.int64)

    def size_of(self, k: int) -> int:
        return self.n_times if self.complete else int(self.bounds[k + 1] - self.bounds[k])

    def rows_of(self, k: int) -> np.ndarray:
        """Row positions of symbol k, oldest first."""
        if self.complete:
            return np.arange(k, self.n_rows, self.n_symbols)
        return self.order[self.bounds[k]:self.bounds[k + 1]]

    def ts_naive(self) -> np.ndarray:
        return np.asarray(self.index.get_level_values(0).tz_convert("UTC").tz_localize(None).values)

    def to_grid(self, values: np.ndarray) -> np.ndarray:
        if self.complete:
            return values.reshape(self.n_times, self.n_symbols)
        grid = np.full((self.n_times, self.n_symbols), np.nan)
        grid[self.ts_codes, self.sym_codes] = values
        return grid

    def from_grid(self, grid: np.ndarray) -> np.ndarray:
        grid = np.asarray(grid, dtype=np.float64)
        return grid.reshape(-1) if self.complete else grid[self.ts_codes, self.sym_codes]

    def masked(self, values: np.ndarray, lookback: int) -> np.ndarray:
        """Values with ±inf and the rows inside each symbol's first ``lookback`` bars set to NaN."""
        v = np.where(np.isfinite(values), values, np.nan)
        if lookback > 0:
            if self.complete:
                v[:lookback * self.n_symbols] = np.nan
            else:
                if self._seq is None:
                    seq = np.empty(self.n_rows, dtype=np.int64)
                    for k in range(self.n_symbols):
                        seq[self.rows_of(k)] = np.arange(self.size_of(k))
                    self._seq = seq
                v[self._seq < lookback] = np.nan
        return v


def _shares_memory(executor: Executor) -> bool:
    """Whether jobs run in this process (a thread pool), so they can write into the output directly."""
    from cde_core.local_executor import LocalExecutor

    return isinstance(executor, LocalExecutor) and executor.params.kind == "thread"


def _panel_inputs(r: ResolvedFactor) -> set[str]:
    if hasattr(r.factor, "grid_inputs"):
        return set(r.factor.grid_inputs(r.params))
    return set(getattr(r.factor, "inputs", ()))


def _panel_job(factor: Any, raw_params: dict[str, Any], grids: dict[str, np.ndarray]) -> list[np.ndarray]:
    """One panel factor on its input grids (runs inside executor jobs; kernels release the GIL)."""
    return list(factor.compute_grid(grids, factor.Params.model_validate(raw_params)))


def _panel_into(factor: Any, raw_params: dict[str, Any], grids: dict[str, np.ndarray], dsts: list[np.ndarray],
                lookback: int) -> None:
    """:func:`_panel_job` for in-process executors on a complete grid: writes each output grid into
    its view of the output matrix (warm-up rows and ±inf → NaN)."""
    from cde_features.kernels.layout import finish_grid

    values = _panel_job(factor, raw_params, grids)
    if len(values) != len(dsts):
        raise DataError(f"factor {factor.name} returned {len(values)} columns, expected {len(dsts)}")
    for dst, grid in zip(dsts, values, strict=True):
        finish_grid(dst, np.asarray(grid, dtype=np.float64), lookback)


def compute_features(panel: pd.DataFrame, factors: Sequence[str] | None = None,
                     params: Mapping[str, Mapping[str, Any]] | None = None, *,
                     feature_set: str | FeatureSet = "default", executor: Executor | None = None,
                     progress: ProgressCallback | None = None,
                     bar_interval: str | pd.Timedelta | None = None) -> pd.DataFrame:
    """Shortcut: ``UnifiedFeatureCalculator(feature_set, select=factors, params=params).compute(panel)``."""
    calc = UnifiedFeatureCalculator(feature_set, select=factors, params=params, executor=executor)
    return calc.compute(panel, progress=progress, bar_interval=bar_interval)
