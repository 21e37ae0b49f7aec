"""What a bars panel must satisfy before factors are computed from it, and its bar grid.

Factors turn any input into a number: a bar with high < low, a negative or NaN close gives a
plausible-looking RSI or volatility downstream. So the panel is checked first, vectorised, and the
first bad bar is named (symbol, timestamp, what is wrong).

Time bars have a grid: one bar per interval. A symbol's missing bar (no trade in that interval and
``fill=false``, an exchange outage, a gap in the lake) is a NaN input to every factor, never a
shortcut from the bar before the gap to the bar after it (a 1-bar return across a 3-day gap is a
3-day return). :func:`bar_interval_of` gives the interval the calculator lays the panel out on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cde_core.bar_panels import check_bar_values, check_unique_bars, utc_panel
from cde_core.errors import DataError
from cde_core.schemas import BAR_INTERVAL_ATTR

__all__ = ["bar_interval_of", "check_bar_values", "checked_panel", "grid_codes"]


def checked_panel(panel: pd.DataFrame, inputs: Sequence[str]) -> pd.DataFrame:
    """The panel sorted by ``(ts, symbol)`` with UTC timestamps (:func:`cde_core.bar_panels.utc_panel`),
    or a :class:`DataError` naming what is wrong with it."""
    panel = utc_panel(panel)
    missing = [c for c in inputs if c not in panel.columns]
    if missing:
        from cde_features.perp_inputs import missing_inputs_hint

        raise DataError(f"the bars panel lacks column(s) {', '.join(missing)}",
                        hint=missing_inputs_hint(missing) or "pass bars in cde_core.schemas.BARS_SCHEMA")
    if not panel.index.is_monotonic_increasing:
        panel = panel.sort_index()
    check_unique_bars(panel)
    check_bar_values(panel)
    return panel


def bar_interval_of(panel: pd.DataFrame, interval: str | pd.Timedelta | None) -> int | None:
    """The bar grid step in ns: ``interval`` if given, else what the bars reader recorded for time
    bars (``panel.attrs['bar_interval']``), else None (threshold bars: no grid)."""
    value = interval if interval is not None else panel.attrs.get(BAR_INTERVAL_ATTR)
    if value is None:
        return None
    try:
        step = pd.Timedelta(value)
    except ValueError as exc:
        raise DataError(f"bar interval '{value}' is not a duration", hint="e.g. '1h', '15min', '1D'") from exc
    if step <= pd.Timedelta(0):
        raise DataError(f"bar interval '{value}' is not positive")
    return int(step.value)


def grid_codes(ts_ns: np.ndarray, symbols: np.ndarray, step: int, n_symbols: int) -> tuple[np.ndarray, int]:
    """Each row's slot on the grid ``origin + k · step`` (origin: the panel's first bar) and the number
    of slots; a bar off the grid is a :class:`DataError` (the interval is not this panel's)."""
    origin = int(ts_ns.min())
    offset = ts_ns - origin
    off_grid = offset % step != 0
    if off_grid.any():
        i = int(np.flatnonzero(off_grid)[0])
        raise DataError(f"bar of {symbols[i]} at {pd.Timestamp(int(ts_ns[i]), tz='UTC')} is not on the "
                        f"{pd.Timedelta(step)} grid of this panel",
                        hint="pass the bars' own interval (bar_interval=...), or None for threshold bars")
    codes = offset // step
    n_times = int(codes.max()) + 1
    if n_times > 20 * max(len(ts_ns) // max(n_symbols, 1), 1) + 100_000:
        raise DataError(f"a {pd.Timedelta(step)} grid over these bars has {n_times} slots for {len(ts_ns)} bars",
                        hint="is the interval right? threshold bars have no grid (bar_interval=None)")
    return codes, n_times
