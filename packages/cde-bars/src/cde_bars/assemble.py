"""Kernel output (per-bar sums + last-trade index + count) → bars table in the canonical schema.

The kernels do not write open / close / timestamps / ids: those are gathered here, vectorised, from
each bar's first and last trade index, or taken from the carried state when the bar began (or
ended) in an earlier batch.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from cde_bars.kernels.layout import (
    F_CLOSE,
    F_OPEN,
    I_LAST_ID,
    I_LAST_TS,
    I_OPEN_ID,
    I_OPEN_TS,
    O_BUY,
    O_BUY_QUOTE,
    O_HIGH,
    O_LOW,
    O_QUOTE,
    O_VOLUME,
)
from cde_bars.state import BarState
from cde_bars.trade_columns import TradeColumns
from cde_core.schemas import BARS_SCHEMA, TS_TYPE

#: extra column of time bars (after the canonical ones): start of the UTC-aligned interval
PERIOD_START = "period_start"
TIME_BARS_SCHEMA = BARS_SCHEMA.append(pa.field(PERIOD_START, TS_TYPE, nullable=False))

Columns = dict[str, np.ndarray]


def assemble_bars(cols: TradeColumns, state: BarState, start: int, count_before: int, k: int,
                  out_f: np.ndarray, ends: np.ndarray, counts: np.ndarray,
                  periods: np.ndarray | None, interval_us: int | None) -> Columns:
    """Columns of the ``k`` bars one kernel call closed; ``state`` is as it was before the call."""
    end = ends[:k]
    count = counts[:k]
    real = count > 0
    first = end - count + 1
    carried = real & (first < start) if count_before > 0 else np.zeros(k, dtype=bool)
    first_safe = np.where(real & ~carried, first, 0)
    end_known = end >= 0
    end_safe = np.where(end_known, end, 0)
    f, i = state.floats, state.ints
    high = out_f[O_HIGH, :k].copy()
    if len(cols):
        last_price = np.where(end_known, cols.price[end_safe], f[F_CLOSE])
        last_ts = np.where(end_known, cols.ts[end_safe], i[I_LAST_TS])
        last_id = np.where(end_known, cols.trade_id[end_safe], i[I_LAST_ID])
        first_price = np.where(carried, f[F_OPEN], cols.price[first_safe])
        first_ts = np.where(carried, i[I_OPEN_TS], cols.ts[first_safe])
        first_id = np.where(carried, i[I_OPEN_ID], cols.trade_id[first_safe])
    else:  # pragma: no cover - kernels emit nothing for an empty batch
        last_price = last_ts = last_id = first_price = first_ts = first_id = np.empty(0)
    period_start = periods[:k] * interval_us if periods is not None and interval_us else None
    if period_start is not None:
        # a filled interval has no trade: it sits at its start, at the previous close and last id
        first_ts = np.where(real, first_ts, period_start)
        last_ts = np.where(real, last_ts, period_start)
        first_id = np.where(real, first_id, last_id)
        first_price = np.where(real, first_price, high)
        last_price = np.where(real, last_price, high)
    volume = out_f[O_VOLUME, :k].copy()
    quote_volume = out_f[O_QUOTE, :k].copy()
    columns: Columns = {
        "ts": first_ts.astype(np.int64), "ts_close": last_ts.astype(np.int64),
        "open": first_price.astype(np.float64), "high": high, "low": out_f[O_LOW, :k].copy(),
        "close": last_price.astype(np.float64), "volume": volume, "quote_volume": quote_volume,
        "vwap": vwap(quote_volume, volume, last_price),
        "n_trades": count.astype(np.int64), "buy_volume": out_f[O_BUY, :k].copy(),
        "buy_quote_volume": out_f[O_BUY_QUOTE, :k].copy(),
        "first_trade_id": first_id.astype(np.int64), "last_trade_id": last_id.astype(np.int64),
    }
    if period_start is not None:
        columns[PERIOD_START] = period_start.astype(np.int64)
    return columns


def vwap(quote_volume: np.ndarray, volume: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Quote volume / base volume; the close where a bar has no volume (empty or zero-qty trades)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(volume > 0, quote_volume / np.where(volume > 0, volume, 1.0), close)


def to_table(parts: list[Columns], schema: pa.Schema) -> pa.Table:
    """Concatenate assembled parts into one Arrow table of ``schema`` (timestamps from µs ints)."""
    arrays = []
    for fld in schema:
        values = [p[fld.name] for p in parts]
        joined = np.concatenate(values) if values else np.empty(0, dtype=np.int64 if
                                                                  pa.types.is_integer(fld.type)
                                                                  or pa.types.is_timestamp(fld.type)
                                                                  else np.float64)
        if pa.types.is_timestamp(fld.type):
            arrays.append(pa.array(joined.astype(np.int64), type=pa.int64()).cast(fld.type))
        else:
            arrays.append(pa.array(joined, type=fld.type))
    return pa.Table.from_arrays(arrays, schema=schema)
