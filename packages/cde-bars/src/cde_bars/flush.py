"""Emit a stream's unfinished bar from its carried state (what ``flush`` returns)."""

from __future__ import annotations

import numpy as np

from cde_bars.assemble import PERIOD_START, vwap
from cde_bars.kernels.layout import (
    F_BUY,
    F_BUY_QUOTE,
    F_CLOSE,
    F_HIGH,
    F_LOW,
    F_NEG,
    F_OPEN,
    F_POS,
    F_QUOTE,
    F_VOLUME,
    I_COUNT,
    I_LAST_ID,
    I_LAST_TS,
    I_OPEN_ID,
    I_OPEN_TS,
    I_PERIOD,
)
from cde_bars.state import BarState


def flush_open_bar(state: BarState, interval_us: int | None) -> dict[str, np.ndarray] | None:
    """Columns of the open bar (one row), or None; resets the open bar. EWMA expectations and
    dynamic-threshold history are left as they are: a flushed bar is not a threshold crossing."""
    f, i = state.floats, state.ints
    count = int(i[I_COUNT])
    if count == 0:
        return None
    close = np.array([f[F_CLOSE]])
    volume = np.array([f[F_VOLUME]])
    quote_volume = np.array([f[F_QUOTE]])
    columns = {
        "ts": np.array([i[I_OPEN_TS]]), "ts_close": np.array([i[I_LAST_TS]]),
        "open": np.array([f[F_OPEN]]), "high": np.array([f[F_HIGH]]), "low": np.array([f[F_LOW]]),
        "close": close, "volume": volume, "quote_volume": quote_volume,
        "vwap": vwap(quote_volume, volume, close), "n_trades": np.array([count]),
        "buy_volume": np.array([f[F_BUY]]), "buy_quote_volume": np.array([f[F_BUY_QUOTE]]),
        "first_trade_id": np.array([i[I_OPEN_ID]]), "last_trade_id": np.array([i[I_LAST_ID]]),
    }
    if interval_us:
        columns[PERIOD_START] = np.array([i[I_PERIOD] * interval_us])
    i[I_COUNT] = 0
    f[F_HIGH] = -np.inf
    f[F_LOW] = np.inf
    for slot in (F_VOLUME, F_QUOTE, F_BUY, F_BUY_QUOTE, F_POS, F_NEG):
        f[slot] = 0.0
    return columns
