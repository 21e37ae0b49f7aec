"""Small random trade days for tests and benchmarks (the realistic market lives in ``simulation``).

Prices follow a random walk, ids are contiguous, timestamps sorted within the UTC day; the result is
canonical (:data:`cde_core.schemas.TRADES_SCHEMA`), in µs.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

from cde_core.schemas import TRADES_SCHEMA
from cde_exchanges.utc_days import DAY_US, day_start_us


def random_trades(day: date, n: int, *, seed: int = 0, first_id: int = 1, price: float = 40_000.0) -> pa.Table:
    """``n`` random trades on ``day`` with ids ``first_id …``; deterministic for a seed."""
    gen = np.random.default_rng([seed, day.toordinal()])
    ts = np.sort(gen.integers(0, DAY_US, n)) + day_start_us(day)
    prices = np.round(price * np.exp(np.cumsum(gen.normal(0.0, 2e-4, n))), 2)
    qty = np.round(gen.exponential(0.05, n) + 1e-5, 5)
    return pa.table({
        "ts": pa.array(ts, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "trade_id": pa.array(np.arange(first_id, first_id + n, dtype=np.int64)),
        "price": prices, "qty": qty, "quote_qty": prices * qty,
        "is_buyer_maker": gen.random(n) < 0.5,
    }).cast(TRADES_SCHEMA)
