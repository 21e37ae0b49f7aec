"""Emit a stream's unfinished bar from its carried state (what ``flush`` returns)."""

from __future__ import annotations

import numpy as np

from cde_bars.assemble import BarBlock
from cde_bars.kernels import layout
from cde_bars.state import BarState


def flush_open_bar(state: BarState, interval_us: int | None) -> BarBlock | None:
    """The open bar as a one-bar block, or None; resets the open bar. EWMA expectations and
    dynamic-threshold history are left as they are: a flushed bar is not a threshold crossing."""
    f, i = state.floats, state.ints
    count = int(i[layout.I_COUNT])
    if count == 0:
        return None
    bar = BarBlock.empty(1)
    volume, quote_volume, close = f[layout.F_VOLUME], f[layout.F_QUOTE], f[layout.F_CLOSE]
    floats = ((layout.B_OPEN, f[layout.F_OPEN]), (layout.B_HIGH, f[layout.F_HIGH]),
              (layout.B_LOW, f[layout.F_LOW]), (layout.B_CLOSE, close), (layout.B_VOLUME, volume),
              (layout.B_QUOTE, quote_volume), (layout.B_BUY, f[layout.F_BUY]),
              (layout.B_BUY_QUOTE, f[layout.F_BUY_QUOTE]),
              (layout.B_VWAP, quote_volume / volume if volume > 0 else close))
    ints = ((layout.B_TS, i[layout.I_OPEN_TS]), (layout.B_TS_CLOSE, i[layout.I_LAST_TS]),
            (layout.B_N_TRADES, count), (layout.B_FIRST_ID, i[layout.I_OPEN_ID]),
            (layout.B_LAST_ID, i[layout.I_LAST_ID]),
            (layout.B_PERIOD_START, i[layout.I_PERIOD] * interval_us if interval_us else 0))
    for row, value in floats:
        bar.floats[row, 0] = value
    for row, number in ints:
        bar.ints[row, 0] = number
    i[layout.I_COUNT] = 0
    f[layout.F_HIGH] = -np.inf
    f[layout.F_LOW] = np.inf
    for slot in (layout.F_VOLUME, layout.F_QUOTE, layout.F_BUY, layout.F_BUY_QUOTE, layout.F_POS,
                 layout.F_NEG):
        f[slot] = 0.0
    return bar
