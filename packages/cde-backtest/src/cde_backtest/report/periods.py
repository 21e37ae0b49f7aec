"""Time-based views of a NAV path: warm-up, monthly returns, rolling statistics, drawdown periods.

Conventions (as in :mod:`cde_backtest.metrics`): the NAV of bar *k* is valued at its close, i.e. at
``ts[k] + one bar``; the initial cash stands at ``ts[0]``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cde_backtest.metrics import NOISE

ROLLING_DAYS = 30


def bar_step(index: pd.DatetimeIndex) -> pd.Timedelta:
    """The median bar spacing (one day when it cannot be measured)."""
    step = index.to_series().diff().median() if len(index) > 1 else pd.NaT
    return step if pd.notna(step) and step > pd.Timedelta(0) else pd.Timedelta(days=1)


def warmup_end(nav: pd.DataFrame) -> pd.Timestamp | None:
    """The first bar with a fill: bars before it are the strategy's warm-up (its lookback filling),
    during which it is flat by construction. None if it never traded."""
    active = (nav["traded"].to_numpy() > 0) | (nav["gross"].to_numpy() > 0)
    if not active.any():
        return None
    return pd.Timestamp(nav.index[int(np.argmax(active))])


def monthly_returns(nav: pd.Series, initial_cash: float) -> pd.DataFrame:
    """Year × month table of monthly returns: the last NAV of the month over the last NAV before it
    (the initial cash for the first month). Only the months the run spans are columns (all twelve
    once it spans a year); a month without bars inside the run is NaN."""
    month_end = nav.resample("ME").last()
    prev = month_end.ffill().shift(1)
    prev.iloc[0] = initial_cash
    rets = month_end / prev - 1.0
    table = pd.DataFrame({"year": rets.index.year, "month": rets.index.month, "ret": rets.to_numpy()})
    months = list(range(1, 13)) if len(rets) >= 12 else sorted(set(rets.index.month))
    return table.pivot(index="year", columns="month", values="ret").reindex(columns=months)


def yearly_returns(nav: pd.Series, initial_cash: float) -> pd.Series:
    """Return of each calendar year in the run (the first from the initial cash)."""
    year_end = nav.resample("YE").last()
    prev = year_end.ffill().shift(1)
    prev.iloc[0] = initial_cash
    out = year_end / prev - 1.0
    out.index = out.index.year
    return out


def rolling_window(index: pd.DatetimeIndex, live_bars: int) -> int:
    """30 days of bars, shortened on short runs so the rolling line covers at least 3/4 of them."""
    per_day = max(1, round(pd.Timedelta(days=1) / bar_step(index)))
    return int(max(2, min(ROLLING_DAYS * per_day, live_bars // 4)))


def rolling_stats(returns: pd.Series, periods_per_year: float, window: int,
                  start: pd.Timestamp | None = None) -> pd.DataFrame:
    """Annualised rolling Sharpe and volatility of per-bar returns from ``start`` on (the warm-up's flat
    bars would otherwise dominate the first windows); NaN until ``window`` returns are in."""
    live = returns if start is None else returns[returns.index >= start]
    roll = live.rolling(window, min_periods=window)
    mean, std = roll.mean(), roll.std()
    scale = math.sqrt(periods_per_year)
    sharpe = (mean / std.where(std > NOISE)) * scale  # no risk in the window: no Sharpe (metrics.NOISE)
    out = pd.DataFrame({"sharpe": sharpe, "volatility": std * scale})
    return out.reindex(returns.index)


def daily_returns(nav: pd.Series, initial_cash: float, start: pd.Timestamp | None = None) -> pd.Series:
    """Day-over-day returns of the end-of-day NAV (the first day from the initial cash), from ``start``."""
    day_end = nav.resample("1D").last().dropna()
    if day_end.empty:
        return day_end
    prev = day_end.shift(1)
    prev.iloc[0] = initial_cash
    rets = day_end / prev - 1.0
    if start is not None:
        rets = rets[rets.index >= start.floor("D") + pd.Timedelta(days=1)]
    return rets


def drawdown_periods(nav: pd.Series, initial_cash: float, top: int | None = None) -> pd.DataFrame:
    """Every spell below a previous NAV peak: start (the peak), trough, recovery (first time back at the
    peak; NaT while under water at the end), depth (trough / peak − 1) and length in days (to the
    recovery, or to the end). Sorted deepest first; ``top`` keeps the first rows."""
    columns = ["start", "trough", "recovery", "depth", "days"]
    if len(nav) == 0:
        return pd.DataFrame(columns=columns)
    index = pd.DatetimeIndex(nav.index)
    times = index[:1].append(index + bar_step(index))
    ext = np.concatenate([[initial_cash], nav.to_numpy(dtype=np.float64)])
    peak = np.maximum.accumulate(ext)
    under = ext < peak
    edges = np.diff(np.concatenate([[0], under.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)  # ends: first index above water
    rows = []
    for s, e in zip(starts, ends, strict=True):  # one row per drawdown spell, not per bar
        segment = ext[s:e] / peak[s:e] - 1.0
        trough = s + int(np.argmin(segment))
        recovered = e < len(ext)
        rows.append({"start": times[s - 1], "trough": times[trough],
                     "recovery": times[e] if recovered else pd.NaT, "depth": float(segment.min()),
                     "days": ((times[e] if recovered else times[-1]) - times[s - 1]) / pd.Timedelta(days=1)})
    frame = pd.DataFrame(rows, columns=columns)
    frame = frame.sort_values("depth", kind="stable").reset_index(drop=True)
    return frame.head(top) if top is not None else frame
