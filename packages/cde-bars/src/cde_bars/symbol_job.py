"""One aggregation job: stream one symbol's trade day files through a builder into month partitions.

Module-level and picklable (plain arguments) so the local thread/process pools and Dask can run it.
Memory is bounded by one record batch plus the bars of the months not yet complete; state carries
across batches and day files. A month is written as soon as no future bar can open in it, with the
builder state at a day boundary, so an interrupted or extended run resumes from there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any

import numpy as np
import pyarrow as pa

from cde_bars.bars_lake import (
    input_fingerprints,
    inputs_digest,
    month_dir,
    month_label,
    month_partitions,
    read_manifest,
    remove_month,
    write_manifest,
)
from cde_bars.requests import DEFAULT_BATCH_ROWS, SymbolReport
from cde_bars.state import BarState
from cde_bars.trade_checks import BadTradeError
from cde_bars.trade_files import TradeFileOpener
from cde_core.errors import CdeError, DataError
from cde_core.lake import Lake, Provenance
from cde_core.lake_location import LakePath
from cde_core.object_store import store_outage
from cde_core.progress import CancelToken
from cde_core.schemas import BARS_SCHEMA, TRADES_SCHEMA, validate_table

DAY_US = 86_400_000_000
SymbolProgress = Callable[[str, float], None]


def resolve_builder(name: str) -> Any:
    """The registered builder (any installed plugin's), so workers see what the caller saw."""
    from cde_core.plugins import get_plugins

    return get_plugins().bar_builders.get(name)


def aggregate_symbol(root: str, bar: str, params: dict[str, Any], exchange: str, market: str, symbol: str,
                     start: date, end: date, flush: bool = False, batch_rows: int = DEFAULT_BATCH_ROWS,
                     progress: SymbolProgress | None = None, cancel: CancelToken | None = None
                     ) -> SymbolReport:
    """Aggregate one symbol's trades in ``[start, end]`` into its bars partitions; see module doc.

    ``progress`` and ``cancel`` are only passed in-process (thread pools): cancelling stops between
    day files, after which a re-run resumes from the last complete month."""
    job = SymbolAggregation(Lake(root), resolve_builder(bar), params, exchange, market, symbol, flush,
                            batch_rows, progress, cancel)
    return job.run(start, end)


class SymbolAggregation:
    """The state of one symbol's run: pending bars per month, day snapshots, what was written."""

    def __init__(self, lake: Lake, builder: Any, params: dict[str, Any], exchange: str, market: str,
                 symbol: str, flush: bool, batch_rows: int, progress: SymbolProgress | None,
                 cancel: CancelToken | None = None) -> None:
        self.lake, self.builder = lake, builder
        self.params = builder.Params.model_validate(params)
        self.spec = builder.spec_id(self.params)
        self.exchange, self.market, self.symbol = exchange, market, symbol
        self.flush, self.batch_rows, self.progress, self.cancel = flush, batch_rows, progress, cancel
        self.symbol_dir = lake.bars_dir(self.spec, exchange, market, symbol)
        self.where = f"bars {self.spec} {exchange}/{market}/{symbol}"
        self.pending: dict[str, list[pa.Table]] = {}
        self.first_close: dict[str, int] = {}
        self.snapshots: dict[int, Any] = {}
        self.written: list[str] = []
        self.bars_written = 0

    # -- driver --------------------------------------------------------------------------------
    def run(self, start: date, end: date) -> SymbolReport:
        files = self.lake.trades_files(self.exchange, self.market, self.symbol, start, end)
        if not files:
            return SymbolReport(symbol=self.symbol, status="no-data")
        self.files = files
        self.days = [date.fromisoformat(f.parent.name.removeprefix("date=")) for f in files]
        self.fingerprints = input_fingerprints(files)
        held = set(self.days)
        asked = (start + timedelta(days=i) for i in range((end - start).days + 1))
        missing = [d for d in asked if d not in held]
        self.origin = self.days[0].isoformat()
        run_key = {"spec": self.spec, "origin": self.origin, "flush": self.flush,
                   "inputs": inputs_digest(self.days, self.fingerprints)}
        manifest = read_manifest(self.symbol_dir)
        existing = month_partitions(self.symbol_dir)
        if manifest and all(manifest.get(k) == v for k, v in run_key.items()) \
                and all(m in existing for m in manifest.get("months", [])):
            return SymbolReport(symbol=self.symbol, status="up-to-date", days=len(files),
                                missing_days=missing)
        state, first_index, skip_through = self._resume_point(existing)
        self._refuse_to_shrink(existing, skip_through)
        trades = self._stream(state, first_index, skip_through)
        self._remove_stale(existing, skip_through)
        months = sorted(self._run_months(None))
        write_manifest(self.symbol_dir, {**run_key, "months": months, "bar": self.builder.name,
                                         "params": self.params.model_dump(mode="json")})
        return SymbolReport(symbol=self.symbol, status="resumed" if skip_through else "built",
                            days=len(files) - first_index, trades=trades, bars=self.bars_written,
                            months=self.written, resumed_from=skip_through, missing_days=missing)

    def _stream(self, state: Any, first_index: int, skip_through: str | None) -> int:
        trades = 0
        columns = TRADES_SCHEMA.names
        opener = TradeFileOpener(self.files)  # from a bucket, fetches the next day while this one is read
        # one core per job: parallelism comes from the executor running symbols side by side
        for index in range(first_index, len(self.files)):
            if self.cancel is not None:
                self.cancel.raise_if_cancelled(self.where)
            self.snapshots[index] = state.copy() if isinstance(state, BarState) else None
            try:
                parquet = opener.open(index)
                rows_before = 0
                for batch in parquet.iter_batches(batch_size=self.batch_rows, columns=columns,
                                                 use_threads=False):
                    trades += batch.num_rows
                    try:
                        bars = self.builder.update(state, batch)
                    except BadTradeError as exc:
                        raise exc.located(row_offset=rows_before, where=self._file_where(index)) from None
                    except DataError as exc:  # schema problems: the file is the place to look
                        raise type(exc)(exc.what, where=self._file_where(index), hint=exc.hint) from None
                    rows_before += batch.num_rows
                    self._collect(bars, index, skip_through)
            except (pa.ArrowInvalid, OSError) as exc:
                outage = store_outage(exc)  # the store is down, not this day bad: never advise re-downloading
                if outage is not None:
                    raise outage from exc
                raise DataError(f"unreadable trades partition: {exc}", where=str(self.files[index]),
                                hint="re-download that day") from exc
            self._write_complete_months(state, index)
            if self.progress is not None:
                self.progress(self.symbol, (index + 1 - first_index) / (len(self.files) - first_index))
        if self.flush or self._last_time_bar_is_complete(state):
            self._collect(self.builder.flush(state), len(self.files), skip_through)
        for month in sorted(self.pending):
            self._write_month(month, complete=False, resume=None)
        return trades

    def _file_where(self, index: int) -> str:
        return (f"{self.exchange}/{self.market} symbol {self.symbol}, day {self.days[index].isoformat()}, "
                f"file {self.files[index]}")

    # -- bars → months -------------------------------------------------------------------------
    def _plugin_fault(self, problem: str) -> CdeError | None:
        """The error naming a third-party builder for ``problem`` (None for cde's own builders)."""
        from cde_core.plugin_faults import fault_of_object, owner_entry

        entry = owner_entry("bar_builders", self.builder)
        return None if entry is None or entry.builtin else fault_of_object(entry, problem)

    def _collect(self, bars: pa.Table, day_index: int, skip_through: str | None) -> None:
        if not isinstance(bars, pa.Table):  # a plugin's update/flush returned something else
            got = type(bars).__name__
            fault = self._plugin_fault(f"returned a {got} from update/flush; expected a pyarrow Table in "
                                       "cde_core.schemas.BARS_SCHEMA (empty when no bar closed)")
            if fault is not None:
                raise fault
        if bars.num_rows == 0:
            return
        for month, lo, hi in month_runs(bars):
            if skip_through is not None and month <= skip_through:
                continue  # already in a complete partition of the run being resumed
            whole = lo == 0 and hi == bars.num_rows  # the common case: no slice (~8 µs for 15 columns)
            self.pending.setdefault(month, []).append(bars if whole else bars.slice(lo, hi - lo))
            self.first_close.setdefault(month, day_index)

    def _write_complete_months(self, state: Any, index: int) -> None:
        """Write every pending month in which no future bar can open (needs a resumable state)."""
        if not isinstance(state, BarState) or not self.pending:
            return
        horizon = open_bar_month(state)
        if horizon is None:
            horizon = month_label(self.days[index + 1]) if index + 1 < len(self.days) else None
        if horizon is None:
            return
        for month in sorted(self.pending):
            if month >= horizon:
                break
            later = [day for m, day in self.first_close.items() if m > month]
            resume_index = min(later, default=index + 1)
            snapshot = self.snapshots[resume_index] if resume_index <= index else state
            self._write_month(month, complete=True, resume=self._resume_record(resume_index, snapshot))
        keep_from = min(self.first_close.values(), default=index + 1)
        for old in [i for i in self.snapshots if i < keep_from]:
            del self.snapshots[old]

    def _resume_record(self, index: int, state: BarState) -> dict[str, Any]:
        return {"day": self.days[index].isoformat() if index < len(self.days) else None,
                "days_before": index,
                "inputs_before": inputs_digest(self.days[:index], self.fingerprints[:index]),
                "state": state.to_json()}

    def _write_month(self, month: str, *, complete: bool, resume: dict[str, Any] | None) -> None:
        table = pa.concat_tables(self.pending.pop(month))
        self.first_close.pop(month, None)
        try:
            validate_table(table, BARS_SCHEMA, where=self.where, exact=False)
        except DataError as exc:
            detail = f"{exc.what} ({exc.hint})" if exc.hint else exc.what
            fault = self._plugin_fault(f"returned bars that do not fit cde_core.schemas.BARS_SCHEMA: "
                                       f"{detail}")
            raise fault or exc from None
        ids = table.column("first_trade_id"), table.column("last_trade_id")
        provenance = Provenance(
            source=f"cde-bars {self.builder.name} of trades {self.exchange}/{self.market}/{self.symbol}",
            rows=table.num_rows, first_trade_id=int(ids[0][0].as_py()), last_trade_id=int(ids[1][-1].as_py()),
            min_ts=table.column("ts")[0].as_py().isoformat(),
            max_ts=table.column("ts_close")[-1].as_py().isoformat(), created_by="cde-bars",
            extra={"spec": self.spec, "bar": self.builder.name, "params": self.params.model_dump(mode="json"),
                   "origin": self.origin, "complete": complete, "resume": resume})
        self.lake.write_partition(month_dir(self.symbol_dir, month), table, provenance)
        self.written.append(month)
        self.bars_written += table.num_rows

    # -- resume --------------------------------------------------------------------------------
    def _resume_point(self, existing: dict[str, LakePath]) -> tuple[Any, int, str | None]:
        """Latest complete month of this chain whose inputs before its resume day are unchanged."""
        fresh = self.builder.new_state(self.params)
        if not isinstance(fresh, BarState):
            return fresh, 0, None
        for month in sorted(existing, reverse=True):
            provenance = Lake.read_provenance(existing[month])
            extra = provenance.extra if provenance else {}
            resume = extra.get("resume")
            if not (extra.get("complete") and resume and extra.get("spec") == self.spec
                    and extra.get("origin") == self.origin):
                continue
            index = int(resume["days_before"])
            if index > len(self.days) or (resume["day"] is not None and (
                    index >= len(self.days) or self.days[index].isoformat() != resume["day"])):
                continue
            if inputs_digest(self.days[:index], self.fingerprints[:index]) != resume["inputs_before"]:
                continue
            return BarState.from_json(self.params, resume["state"]), index, month
        return fresh, 0, None

    def _run_months(self, skip_through: str | None) -> set[str]:
        first, last = month_label(self.days[0]), month_label(self.days[-1])
        return {m for m in month_partitions(self.symbol_dir) if first <= m <= last
                and (skip_through is None or m > skip_through)}

    def _remove_stale(self, existing: dict[str, LakePath], skip_through: str | None) -> None:
        """Months of an earlier run inside this run's range that this run did not produce."""
        for month in self._run_months(skip_through) - set(self.written):
            if month in existing:
                remove_month(self.symbol_dir, month)

    def _refuse_to_shrink(self, existing: dict[str, LakePath], skip_through: str | None) -> None:
        """A month this run rewrites must not hold bars outside the run's days: a later start or an
        earlier end would replace it with fewer days and silently drop good bars (a gap in the middle
        of the spec when earlier months are kept)."""
        first = datetime.combine(self.days[0], time(), tzinfo=UTC)
        after = datetime.combine(self.days[-1] + timedelta(days=1), time(), tzinfo=UTC)
        for month in sorted(self._run_months(skip_through)):
            provenance = Lake.read_provenance(existing[month]) if month in existing else None
            if provenance is None or provenance.min_ts is None or provenance.max_ts is None:
                continue
            low, high = datetime.fromisoformat(provenance.min_ts), datetime.fromisoformat(provenance.max_ts)
            if low < first or high > after:
                raise DataError(
                    f"bars of {self.symbol} already hold {low:%Y-%m-%d %H:%M} … {high:%Y-%m-%d %H:%M} UTC in "
                    f"month {month}; this run over {self.days[0]} … {self.days[-1]} would replace that month "
                    "with fewer days and drop the rest", where=f"{self.where} month={month}",
                    hint=f"aggregate {low:%Y-%m-%d} … {(high - timedelta(microseconds=1)):%Y-%m-%d} or wider "
                         f"to extend the bars, or delete {self.symbol_dir} to build only the shorter range")

    def _last_time_bar_is_complete(self, state: Any) -> bool:
        interval_us = getattr(self.params, "interval_us", None)
        if not interval_us or not isinstance(state, BarState):
            return False
        from cde_bars.kernels.layout import I_COUNT, I_PERIOD

        range_end = (datetime.combine(self.days[-1], datetime.min.time(), tzinfo=UTC).timestamp()
                     * 1_000_000 + DAY_US)
        return bool(state.ints[I_COUNT] > 0 and (state.ints[I_PERIOD] + 1) * interval_us <= range_end)


def month_runs(bars: pa.Table) -> list[tuple[str, int, int]]:
    """``(YYYY-MM, first row, end row)`` of each run of bars whose first trade is in one month.

    Per batch of the stream, so kept cheap: the µs timestamps are read as int64 straight from the
    column's buffer (``to_numpy`` and a cast to months cost ~50 µs a call on fresh tables, ~2 % of
    the end-to-end time), and the common case, every bar in one month, is two integer compares
    against that month's bounds; only a batch that crosses a month end goes through numpy's months."""
    column = bars.column("ts")
    ts = _micros(column.chunk(0)) if column.num_chunks == 1 else column.to_numpy().view(np.int64)
    label, month_end = _month_and_end(int(ts[0]))
    if ts[-1] < month_end:  # bars are in time order: the last bar bounds them all
        return [(label, 0, len(ts))]
    months = ts.view("datetime64[us]").astype("datetime64[M]")
    edges = [0, *(np.flatnonzero(months[1:] != months[:-1]) + 1).tolist(), len(months)]
    return [(str(months[lo]), lo, hi) for lo, hi in pairwise(edges)]


def _micros(array: pa.Array) -> np.ndarray:
    """The int64 µs values of a timestamp array without nulls, a zero-copy view of its buffer."""
    return np.frombuffer(array.buffers()[1], dtype=np.int64, count=len(array), offset=array.offset * 8)


def _month_and_end(ts_us: int) -> tuple[str, int]:
    """``YYYY-MM`` of a µs timestamp and the first µs of the next month."""
    day = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ts_us)
    year, month = (day.year, day.month + 1) if day.month < 12 else (day.year + 1, 1)
    end = int((datetime(year, month, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())
    return f"{day.year:04d}-{day.month:02d}", end * 1_000_000


def open_bar_month(state: BarState) -> str | None:
    from cde_bars.kernels.layout import I_COUNT, I_OPEN_TS

    if state.ints[I_COUNT] == 0:
        return None
    return str(np.datetime64(int(state.ints[I_OPEN_TS]), "us").astype("datetime64[M]"))
