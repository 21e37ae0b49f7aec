"""A small random trades lake written with the core's own partition writer (as cde-exchanges will)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa

from cde_core.lake import Lake, Provenance
from cde_core.schemas import TRADES_SCHEMA


def random_day(day: date, n: int, seed: int, first_id: int, price0: float = 100.0) -> pa.Table:
    rng = np.random.default_rng(seed)
    day_start = int(datetime.combine(day, datetime.min.time(), UTC).timestamp() * 1_000_000)
    ts = np.sort(rng.integers(0, 86_400_000_000, n)) + day_start
    price = np.round(price0 * np.exp(np.cumsum(rng.normal(0, 1e-3, n))), 2)
    qty = np.round(rng.exponential(0.5, n), 4) + 0.0001
    return pa.table({
        "ts": pa.array(ts, pa.int64()).cast(TRADES_SCHEMA.field("ts").type),
        "trade_id": pa.array(np.arange(first_id, first_id + n), pa.int64()),
        "price": price, "qty": qty, "quote_qty": price * qty,
        "is_buyer_maker": pa.array(rng.random(n) < 0.5),
    }, schema=TRADES_SCHEMA)


def write_trades_lake(lake: Lake, symbol: str, days: list[date], n: int = 3000, seed: int = 0,
                      exchange: str = "binance", market: str = "spot") -> pa.Table:
    """Write one partition per day; returns all trades concatenated (the reference input)."""
    tables, first_id = [], 1
    for i, day in enumerate(days):
        table = random_day(day, n, seed * 1000 + i, first_id)
        first_id += n
        lake.write_partition(lake.trades_dir(exchange, market, symbol, day), table,
                             Provenance(source=f"test:{symbol}:{day}", rows=n,
                                        first_trade_id=int(table["trade_id"][0].as_py()),
                                        last_trade_id=int(table["trade_id"][-1].as_py())))
        tables.append(table)
    return pa.concat_tables(tables)
