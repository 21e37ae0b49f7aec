"""Generate a synthetic archive directory: for each symbol-day, trades from the market simulator
(:mod:`cde_exchanges.simulation`, when installed) or the small random generator, written in the
exact format of the adapter's market and kind (daily files, plus monthly files for whole months)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pyarrow as pa

from cde_exchanges.archive_exchange import ArchiveExchange
from cde_exchanges.archive_writer import ArchiveVariant, write_archive_file
from cde_exchanges.download_plan import days_between
from cde_exchanges.synthetic_trades import random_trades

DayTrades = Callable[[str, date], pa.Table]


def default_day_trades(symbols: list[str], start: date, end: date, trades_per_day: int, seed: int) -> DayTrades:
    try:
        from cde_exchanges.simulation import MarketSpec, simulate_day
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
        from cde_exchanges.binance import BinanceParams, cm_contract_size

        return ArchiveVariant(contract_size=cm_contract_size(symbol, BinanceParams()))
    if adapter.name == "okx" and market == "swap":
        from cde_exchanges.okx import OkxParams, contract_value, is_inverse

        return ArchiveVariant(contract_size=contract_value(symbol, OkxParams()), inverse=is_inverse(symbol))
    return ArchiveVariant()


def make_archive(root: Path, adapter: ArchiveExchange, market: str, kind: str, symbols: list[str],
                 start: date, end: date, *, monthly: bool = False, trades_per_day: int = 20_000, seed: int = 7,
                 day_trades: DayTrades | None = None) -> list[Path]:
    adapter.check(market, kind)
    day_trades = day_trades or default_day_trades(symbols, start, end, trades_per_day, seed)
    written: list[Path] = []
    for symbol in symbols:
        variant = variant_for(adapter, market, symbol)
        by_month: dict[tuple[int, int], list[pa.Table]] = {}
        for day in days_between(start, end):
            trades = day_trades(symbol, day)
            written.append(write_archive_file(root, adapter.daily_file(market, kind, symbol, day), trades, variant))
            by_month.setdefault((day.year, day.month), []).append(trades)
        if monthly:
            for (year, month), tables in by_month.items():
                file = adapter.monthly_file(market, kind, symbol, year, month)
                if file is not None and file.first_day >= start and file.last_day <= end:
                    written.append(write_archive_file(root, file, pa.concat_tables(tables), variant))
    return written
