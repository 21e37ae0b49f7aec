"""Emit a stream's unfinished bar from its carried state (what ``flush`` returns)."""

from __future__ import annotations

import numpy as np

from cde_bars.assemble import BarBlock
from cde_bars.kernels.layout import (
    B_BUY,
    B_BUY_QUOTE,
    B_CLOSE,
    B_FIRST_ID,
    B_HIGH,
    B_LAST_ID,
    B_LOW,
    B_N_TRADES,
    B_OPEN,
    B_PERIOD_START,
    B_QUOTE,
    B_TS,
    B_TS_CLOSE,
    B_VOLUME,
    B_VWAP,
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


def flush_open_bar(state: BarState, interval_us: int | None) -> BarBlock | None:
    """The open bar as a one-bar block, or None; resets the open bar. EWMA expectations and
    dynamic-threshold history are left as they are: a flushed bar is not a threshold crossing."""
    f, i = state.floats, state.ints
    count = int(i[I_COUNT])
    if count == 0:
        return None
    bar = BarBlock.empty(1)
    volume, quote_volume, close = f[F_VOLUME], f[F_QUOTE], f[F_CLOSE]
    for row, value in ((B_OPEN, f[F_OPEN]), (B_HIGH, f[F_HIGH]), (B_LOW, f[F_LOW]), (B_CLOSE, close),
                       (B_VOLUME, volume), (B_QUOTE, quote_volume), (B_BUY, f[F_BUY]),
                       (B_BUY_QUOTE, f[F_BUY_QUOTE]),
                       (B_VWAP, quote_volume / volume if volume > 0 else close)):
        bar.floats[row, 0] = value
    for row, number in ((B_TS, i[I_OPEN_TS]), (B_TS_CLOSE, i[I_LAST_TS]), (B_N_TRADES, count),
                        (B_FIRST_ID, i[I_OPEN_ID]), (B_LAST_ID, i[I_LAST_ID]),
                        (B_PERIOD_START, i[I_PERIOD] * interval_us if interval_us else 0)):
        bar.ints[row, 0] = number
    i[I_COUNT] = 0
    f[F_HIGH] = -np.inf
    f[F_LOW] = np.inf
    for slot in (F_VOLUME, F_QUOTE, F_BUY, F_BUY_QUOTE, F_POS, F_NEG):
        f[slot] = 0.0
    return bar
