"""Hypothesis strategies for trade streams that hit the edge cases: equal timestamps, gaps of days,
repeated prices, quantities whose sums land exactly on thresholds."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from cde_bars_oracle import Trade
from hypothesis import strategies as st

from cde_core.schemas import TRADES_SCHEMA

BASE_TS = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z in µs
DELTAS = [0, 0, 1, 250_000, 59_000_000, 3_600_000_000, 2 * 86_400_000_000 + 7]
PRICES = [99.5, 100.0, 100.5, 101.0, 102.25]
QTYS = [0.0, 0.25, 0.5, 1.0, 2.0, 3.0]  # 0: trades of zero size are allowed (docs/bars.md)


@st.composite
def trade_streams(draw: Any, min_size: int = 1, max_size: int = 80) -> list[Trade]:
    n = draw(st.integers(min_size, max_size))
    deltas = draw(st.lists(st.sampled_from(DELTAS), min_size=n, max_size=n))
    prices = draw(st.lists(st.sampled_from(PRICES), min_size=n, max_size=n))
    qtys = draw(st.lists(st.sampled_from(QTYS), min_size=n, max_size=n))
    makers = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    start = BASE_TS + draw(st.integers(0, 86_400_000_000))
    first_id = draw(st.integers(0, 10**9))
    trades, ts = [], start
    for i in range(n):
        ts += deltas[i]
        trades.append(Trade(ts, first_id + i, prices[i], qtys[i], prices[i] * qtys[i], makers[i]))
    return trades


def trades_table(trades: list[Trade]) -> pa.Table:
    return pa.table({
        "ts": pa.array(np.array([t.ts for t in trades], dtype=np.int64)).cast(TRADES_SCHEMA.field("ts").type),
        "trade_id": pa.array([t.trade_id for t in trades], pa.int64()),
        "price": pa.array([t.price for t in trades], pa.float64()),
        "qty": pa.array([t.qty for t in trades], pa.float64()),
        "quote_qty": pa.array([t.quote for t in trades], pa.float64()),
        "is_buyer_maker": pa.array([t.maker for t in trades], pa.bool_()),
    }, schema=TRADES_SCHEMA)


def rows(table: pa.Table) -> list[dict[str, Any]]:
    """Bars as plain dicts with integer timestamps (µs), for exact comparison with the oracle."""
    out = []
    for fld in table.schema:
        if pa.types.is_timestamp(fld.type):
            table = table.set_column(table.schema.get_field_index(fld.name), fld.name,
                                     table.column(fld.name).cast(pa.int64()))
    for row in table.to_pylist():
        out.append(row)
    return out
