"""Generate a synthetic archive directory: for each symbol-day, trades from the market simulator
(:mod:`cde_exchanges.fakes.simulation`, when installed) or the small random generator, written in the
exact format of the adapter's market and kind.

Funding-rate archives hold random settlements (:mod:`cde_exchanges.fakes.synthetic_funding`), one monthly
file per month the range touches. For the other kinds ``layout`` chooses the files: ``daily`` (one per
day), ``monthly`` (a monthly file for every whole month, daily files for the partial months at either
end: what the downloader prefers, and half the bytes of ``both``), or ``both``. Generation is
resumable — a file whose zip and ``.CHECKSUM`` (written last) both exist is kept — and runs one job per
symbol through the configured executor.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Literal

import pyarrow as pa
from pydantic import BaseModel

from cde_core.contracts.executor import Executor, Job
from cde_core.progress import ProgressCallback
from cde_exchanges.fakes.archive_writer import ArchiveVariant, write_archive_file
from cde_exchanges.fakes.synthetic_funding import random_funding
from cde_exchanges.fakes.synthetic_trades import random_trades
from cde_exchanges.formats.archive_exchange import ArchiveExchange
from cde_exchanges.formats.archive_files import ArchiveFile
from cde_exchanges.utc_days import days_between

DayTrades = Callable[[str, date], pa.Table]
ArchiveLayout = Literal["daily", "monthly", "both"]


class ArchiveReport(BaseModel):
    """What one ``make_archive`` call did."""

    written: int = 0
    kept: int = 0


def default_day_trades(symbols: list[str], start: date, end: date, trades_per_day: int, seed: int) -> DayTrades:
    try:
        from cde_exchanges.fakes.simulation import MarketSpec, simulate_day
    except ImportError:
        simulate_day = None
    if simulate_day is not None:
        spec = MarketSpec(symbols=symbols, start=start, end=end, seed=seed, trades_per_day=float(trades_per_day))
        return lambda symbol, day: simulate_day(spec, symbol, day)
    first_ids: dict[str, int] = {}

    def generate(symbol: str, day: date) -> pa.Table:
        table = random_trades(day, trades_per_day, seed=seed + sum(map(ord, symbol)),
                              first_id=first_ids.get(symbol, 1))
        first_ids[symbol] = first_ids.get(symbol, 1) + table.num_rows
        return table

    return generate


def variant_for(adapter: ArchiveExchange, market: str, symbol: str) -> ArchiveVariant:
    """The format variant (contract size) an adapter's default parameters read back."""
    if adapter.name == "binance" and market == "cm":
        from cde_exchanges.formats.binance import BinanceParams, cm_contract_size

        return ArchiveVariant(contract_size=cm_contract_size(symbol, BinanceParams()))
    if adapter.name == "okx" and market == "swap":
        from cde_exchanges.formats.okx import OkxParams, contract_value, is_inverse

        return ArchiveVariant(contract_size=contract_value(symbol, OkxParams()), inverse=is_inverse(symbol))
    return ArchiveVariant()


def _complete(root: Path, file: ArchiveFile) -> bool:
    if not (root / file.rel_path).exists():
        return False
    return file.checksum_rel_path is None or (root / file.checksum_rel_path).exists()


def _planned_files(adapter: ArchiveExchange, market: str, kind: str, symbol: str, start: date, end: date,
                   layout: ArchiveLayout, interval: str | None) -> list[tuple[ArchiveFile, list[date]]]:
    """Each file to write with the days it holds, in day order."""
    days = days_between(start, end)
    months: dict[tuple[int, int], list[date]] = {}
    for day in days:
        months.setdefault((day.year, day.month), []).append(day)
    plan: list[tuple[ArchiveFile, list[date]]] = []
    for (year, month), month_days in months.items():
        if not adapter.has_daily_files(kind):  # funding rates: the month's file, whatever the layout
            plan.append((adapter.monthly_file(market, kind, symbol, year, month, interval), month_days))
            continue
        monthly = adapter.monthly_file(market, kind, symbol, year, month, interval) if layout != "daily" else None
        whole = monthly is not None and monthly.first_day >= start and monthly.last_day <= end
        if layout != "monthly" or not whole:
            plan += [(adapter.daily_file(market, kind, symbol, day, interval), [day]) for day in month_days]
        if whole and monthly is not None:
            plan.append((monthly, month_days))
    return plan


def write_symbol_archive(root: Path, adapter: ArchiveExchange, market: str, kind: str, symbol: str,
                         start: date, end: date, layout: ArchiveLayout, day_trades: DayTrades,
                         interval: str | None = None) -> ArchiveReport:
    """All files of one symbol; days are generated once even when daily and monthly files share them.
    Klines files (of ``interval``) are derived from the same trades a trades archive gets."""
    variant = variant_for(adapter, market, symbol)
    report = ArchiveReport()
    cache: dict[date, pa.Table] = {}
    for file, days in _planned_files(adapter, market, kind, symbol, start, end, layout, interval):
        if _complete(root, file):
            report.kept += 1
            continue
        if kind == "fundingRate":
            rates = random_funding(days[0].year, days[0].month, seed=sum(map(ord, symbol)))
            write_archive_file(root, file, rates, variant)
            report.written += 1
            continue
        tables = [cache[d] if d in cache else day_trades(symbol, d) for d in days]
        if len(days) == 1 and layout == "both":
            cache[days[0]] = tables[0]
        write_archive_file(root, file, pa.concat_tables(tables) if len(tables) > 1 else tables[0], variant)
        report.written += 1
        if len(days) > 1:
            cache.clear()
    return report


def _simulated_symbol_job(root: Path, exchange: str, market: str, kind: str, symbol: str, symbols: list[str],
                          start: date, end: date, layout: ArchiveLayout, trades_per_day: int,
                          seed: int, interval: str | None) -> ArchiveReport:
    from cde_core.plugins import get_plugins

    adapter = get_plugins().exchanges.get(exchange)
    day_trades = default_day_trades(symbols, start, end, trades_per_day, seed)
    return write_symbol_archive(root, adapter, market, kind, symbol, start, end, layout, day_trades, interval)


def make_archive(root: Path, adapter: ArchiveExchange, market: str, kind: str, symbols: list[str],
                 start: date, end: date, *, layout: ArchiveLayout = "daily", trades_per_day: int = 20_000,
                 seed: int = 7, day_trades: DayTrades | None = None, executor: Executor | None = None,
                 progress: ProgressCallback | None = None, interval: str | None = None) -> ArchiveReport:
    """Write the archive tree of ``symbols`` × days under ``root``; resumable.

    With ``day_trades`` (tests) symbols are written inline; otherwise one picklable job per symbol
    runs through ``executor`` (the configured one when None).
    """
    adapter.check(market, kind)
    total = ArchiveReport()
    if day_trades is not None:
        reports = [write_symbol_archive(root, adapter, market, kind, s, start, end, layout, day_trades, interval)
                   for s in symbols]
    else:
        from cde_core.config import get_config
        from cde_core.executors import create_executor

        runner = executor or create_executor(get_config().executor)
        jobs = [Job(symbol, _simulated_symbol_job, (root, adapter.name, market, kind, symbol, symbols, start, end,
                                                    layout, trades_per_day, seed, interval)) for symbol in symbols]
        try:
            reports = runner.run(jobs, progress=progress)
        finally:
            if executor is None:
                runner.close()
    for report in reports:
        total.written += report.written
        total.kept += report.kept
    return total
