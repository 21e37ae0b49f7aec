"""Aggregate the trades lake into the bars lake: one executor job per symbol.

The service behind ``cde aggregate`` and ``POST /bars/aggregate``; notebooks call it directly::

    from cde_bars import AggregateRequest, aggregate_lake
    report = aggregate_lake(AggregateRequest(bar="time", params={"interval": "1h"}, exchange="binance",
                                             market="spot", symbols=["BTCUSDT"], start=..., end=...))
"""

from __future__ import annotations

import threading
import time
from typing import Any

from pydantic import BaseModel

from cde_bars.params import validated_params
from cde_bars.requests import AggregateReport, AggregateRequest, SymbolReport
from cde_core.config import get_config
from cde_core.contracts.executor import Executor, Job
from cde_core.errors import DataError
from cde_core.lake import Lake, safe_value
from cde_core.lake_names import check_trades_present
from cde_core.progress import CancelToken, ProgressCallback, monotonic

__all__ = ["AggregateReport", "AggregateRequest", "SymbolReport", "aggregate_lake", "resolve_spec"]


def resolve_spec(bar: str, params: dict[str, Any]) -> tuple[Any, BaseModel, str]:
    """(builder, validated params, spec id) for a bar name and raw parameters."""
    from cde_bars.symbol_job import resolve_builder

    builder = resolve_builder(bar)
    validated = validated_params(builder, params)
    spec = builder.spec_id(validated)
    try:
        if not isinstance(spec, str):
            raise DataError(f"spec_id returned a {type(spec).__name__}, not a string")
        safe_value(spec, what="bar spec")
    except DataError as exc:  # a plugin's builder named a folder the lake cannot hold: blame the plugin
        from cde_core.plugin_faults import fault_of_object, owner_entry

        entry = owner_entry("bar_builders", builder)
        if entry is None or entry.builtin:
            raise
        raise fault_of_object(entry, f"returned the spec id {spec!r} from spec_id, which cannot name a lake "
                                     f"folder ({exc.args[0] if exc.args else exc})") from None
    return builder, validated, spec


class _SymbolFractions:
    """Turns per-symbol day progress (from worker threads) into one overall fraction."""

    def __init__(self, symbols: list[str], progress: ProgressCallback) -> None:
        self.fractions = dict.fromkeys(symbols, 0.0)
        self.progress = progress
        self.lock = threading.Lock()

    def __call__(self, symbol: str, fraction: float) -> None:
        with self.lock:
            self.fractions[symbol] = fraction
            overall = sum(self.fractions.values()) / len(self.fractions)
        self.progress(min(overall, 0.999), symbol)


def _in_process(executor: Executor) -> bool:
    params = getattr(executor, "params", None)
    return getattr(executor, "name", "") == "local" and getattr(params, "kind", "") == "thread"


def aggregate_lake(request: AggregateRequest, lake: Lake | None = None, executor: Executor | None = None,
                   progress: ProgressCallback | None = None, cancel: CancelToken | None = None
                   ) -> AggregateReport:
    """Build (or resume, or skip when up to date) the bars of ``request`` for every symbol.

    Jobs run per symbol on ``executor`` (default: the configured one); each streams its day files
    in ``request.batch_rows`` batches and writes month partitions atomically. Returns what was done.
    """
    from cde_bars.symbol_job import aggregate_symbol
    from cde_core.executors import create_executor

    started = time.perf_counter()
    # the jobs' own fractions (threads) and the executor's count of finished symbols both report
    progress = monotonic(progress) if progress is not None else None
    lake = lake or Lake(get_config().data_root)
    builder, params, spec = resolve_spec(request.bar, request.params)
    for symbol in request.symbols:
        safe_value(symbol, what="symbol")
    check_trades_present(lake, request.exchange, request.market, request.symbols, request.start, request.end)
    own_executor = executor is None
    executor = executor or create_executor(get_config().executor)
    in_process: dict[str, Any] = {}
    if _in_process(executor):  # callbacks and tokens cannot travel to processes or Dask workers
        if progress is not None:
            in_process["progress"] = _SymbolFractions(request.symbols, progress)
        if cancel is not None:
            in_process["cancel"] = cancel
    jobs = [Job(key=symbol, fn=aggregate_symbol,
                args=(str(lake.root), request.bar, params.model_dump(mode="json"), request.exchange,
                      request.market, symbol, request.start, request.end, request.flush, request.batch_rows),
                kwargs=in_process)
            for symbol in request.symbols]
    try:
        results = executor.run(jobs, progress=progress, cancel=cancel)
    finally:
        if own_executor:
            executor.close()
    if progress is not None:
        progress(1.0, "done")
    report = AggregateReport(spec_id=spec, bar=builder.name, params=params.model_dump(mode="json"),
                             exchange=request.exchange, market=request.market,
                             symbols=[SymbolReport.model_validate(r) for r in results],
                             seconds=time.perf_counter() - started)
    refuse_symbols_without_bars(lake, report, request)
    return report


def refuse_symbols_without_bars(lake: Lake, report: AggregateReport, request: AggregateRequest) -> None:
    """A symbol whose trades closed not one bar (a threshold above the whole range's flow) is an
    error, not a report of "0 bars" with exit 0 that every later stage would silently run without.

    A symbol whose day files in the range hold no trade at all (empty partitions: a listing paused,
    a day without trades) is told so, not to lower a threshold or pass ``--flush`` (which cannot help,
    and which the time builder has no use for)."""
    from cde_bars.bars_lake import month_partitions

    def folder(symbol: str) -> Any:
        return lake.bars_dir(report.spec_id, request.exchange, request.market, symbol)

    empty = [s for s in report.symbols if s.status != "no-data" and not month_partitions(folder(s.symbol))]
    if not empty:
        return
    tradeless = [s.symbol for s in empty if s.trades == 0 and _holds_no_trades(lake, request, s.symbol)]
    if tradeless:
        them = "their" if len(tradeless) > 1 else "its"
        raise DataError(f"no trades of {', '.join(tradeless)} from {request.start} to {request.end}: {them} "
                        "day files in the range hold no rows, so there are no bars to build",
                        where=f"trades/exchange={request.exchange}/market={request.market}"
                              + (f"/symbol={tradeless[0]}" if len(tradeless) == 1 else ""),
                        hint="change --start/--end to days with trades (see `cde lake ls`)")
    names = ", ".join(f"{s.symbol} ({s.trades:,} trades read)" if s.trades else s.symbol for s in empty)
    if report.bar == "time":  # trades were read, all in an interval that ends after the range
        hint = "widen --end past the end of the last interval, or pass --flush to write the unfinished bar"
    else:
        hint = ("lower the threshold (or raise --bars-per-day), widen --start/--end, or pass --flush to "
                "write the unfinished bar; see `cde bars builders` for the parameters")
    raise DataError(f"no {report.bar} bar closed for {names} from {request.start} to {request.end}: the "
                    f"bars spec {report.spec_id} holds nothing for {'them' if len(empty) > 1 else 'it'}",
                    where=f"bars/spec={report.spec_id}", hint=hint)


def _holds_no_trades(lake: Lake, request: AggregateRequest, symbol: str) -> bool:
    """Whether every trades day file of ``symbol`` in the request's range has 0 rows (its provenance
    says so; a re-run that found the bars up to date read no trade, so the count comes from here)."""
    for path in lake.trades_files(request.exchange, request.market, symbol, request.start, request.end):
        provenance = lake.read_provenance(path)
        if provenance is None or provenance.rows:
            return False
    return True
