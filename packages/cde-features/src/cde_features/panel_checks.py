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

from cde_core.errors import DataError
from cde_core.schemas import BAR_INTERVAL_ATTR

PRICE_COLUMNS = ("open", "high", "low", "close")
AMOUNT_COLUMNS = ("volume", "quote_volume", "buy_volume", "buy_quote_volume", "n_trades")


def checked_panel(panel: pd.DataFrame, inputs: Sequence[str]) -> pd.DataFrame:
    """The panel sorted by ``(ts, symbol)``, or a :class:`DataError` naming what is wrong with it."""
    if not isinstance(panel.index, pd.MultiIndex) or panel.index.nlevels != 2:
        raise DataError("the bars panel must be indexed by (ts, symbol)",
                        hint="panel.set_index(['ts', 'symbol']).sort_index()")
    missing = [c for c in inputs if c not in panel.columns]
    if missing:
        from cde_features.perp_inputs import missing_inputs_hint

        raise DataError(f"the bars panel lacks column(s) {', '.join(missing)}",
                        hint=missing_inputs_hint(missing) or "pass bars in cde_core.schemas.BARS_SCHEMA")
    if not panel.index.is_monotonic_increasing:
        panel = panel.sort_index()
    if panel.index.has_duplicates:
        dup = panel.index[panel.index.duplicated()][0]
        raise DataError(f"the bars panel has duplicate rows, e.g. {dup}", hint="deduplicate the bars first")
    check_bar_values(panel)
    return panel


def _first_bad(panel: pd.DataFrame, bad: np.ndarray, what: str) -> None:
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        ts, symbol = panel.index[i]
        raise DataError(f"bar of {symbol} at {ts}: {what} ({_values(panel, i)})",
                        where=f"bars panel, symbol {symbol}, bar {ts}",
                        hint="repair or drop that bar (or rebuild the bars from checked trades) first")


def _values(panel: pd.DataFrame, i: int) -> str:
    shown = [c for c in (*PRICE_COLUMNS, "volume") if c in panel.columns]
    return ", ".join(f"{c}={panel[c].iat[i]!r}" for c in shown)


def check_bar_values(panel: pd.DataFrame) -> None:
    """Prices finite and > 0, low ≤ open, close ≤ high, amounts finite and ≥ 0 (vectorised)."""
    cols = {c: panel[c].to_numpy(dtype=np.float64) for c in (*PRICE_COLUMNS, *AMOUNT_COLUMNS)
            if c in panel.columns}
    with np.errstate(invalid="ignore"):
        for c in PRICE_COLUMNS:
            if c in cols:
                _first_bad(panel, ~(np.isfinite(cols[c]) & (cols[c] > 0)), f"{c} is not a finite price > 0")
        for c in AMOUNT_COLUMNS:
            if c in cols:
                _first_bad(panel, ~(np.isfinite(cols[c]) & (cols[c] >= 0)), f"{c} is not finite and >= 0")
        if "high" in cols and "low" in cols:
            _first_bad(panel, cols["high"] < cols["low"], "high < low")
            for c in ("open", "close"):
                if c in cols:
                    _first_bad(panel, (cols[c] > cols["high"]) | (cols[c] < cols["low"]),
                               f"{c} outside [low, high]")


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
