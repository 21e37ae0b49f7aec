"""Slow, obvious reference implementations of what the tear sheet shows; the tests compare the page
(read back with :mod:`cde_core.visual.testing`) with these."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# -- oracles ------------------------------------------------------------------------------------------


def returns_of(nav: list[float], initial: float) -> list[float]:
    out, prev = [], initial
    for v in nav:
        out.append(v / prev - 1.0)
        prev = v
    return out


def summary_stats(nav: list[float], initial: float, ppy: float) -> dict[str, float]:
    """Total return, CAGR, vol, Sharpe, Sortino, max DD, Calmar by plain loops."""
    r = returns_of(nav, initial)
    n = len(r)
    mean = sum(r) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in r) / (n - 1))
    down = math.sqrt(sum(min(x, 0.0) ** 2 for x in r) / n)
    years = n / ppy
    cagr = (nav[-1] / initial) ** (1 / years) - 1
    peak, mdd = initial, 0.0
    for v in nav:
        peak = max(peak, v)
        mdd = max(mdd, 1 - v / peak)
    return {"total_return": nav[-1] / initial - 1, "cagr": cagr, "annual_volatility": std * math.sqrt(ppy),
            "sharpe": mean / std * math.sqrt(ppy), "sortino": mean / down * math.sqrt(ppy), "max_drawdown": mdd,
            "calmar": cagr / mdd}


def beta_alpha_corr(strategy: list[float], bench: list[float], ppy: float) -> dict[str, float]:
    slope, intercept = np.polyfit(np.asarray(bench), np.asarray(strategy), 1)
    return {"beta": float(slope), "alpha": float(intercept) * ppy,
            "correlation": float(np.corrcoef(strategy, bench)[0, 1])}


def monthly(nav: pd.Series, initial: float) -> dict[tuple[int, int], float]:
    """(year, month) → last NAV of the month / last NAV before the month − 1."""
    out: dict[tuple[int, int], float] = {}
    prev_end = initial
    current, last = None, None
    for ts, v in nav.items():
        key = (ts.year, ts.month)
        if current is not None and key != current:
            out[current] = last / prev_end - 1
            prev_end = last
        current, last = key, v
    out[current] = last / prev_end - 1
    return out


def rolling_sharpe(returns: list[float], start: int, window: int, ppy: float) -> dict[int, float]:
    """bar index → Sharpe of the ``window`` returns ending there, counting from bar ``start``."""
    out = {}
    for i in range(start + window - 1, len(returns)):
        chunk = returns[i - window + 1:i + 1]
        m = sum(chunk) / window
        s = math.sqrt(sum((x - m) ** 2 for x in chunk) / (window - 1))
        out[i] = m / s * math.sqrt(ppy)
    return out


def drawdown_spells(times: list[pd.Timestamp], nav: list[float]) -> list[dict]:
    """Walk the NAV: a spell opens when it drops below the peak and closes when it is back at it.
    ``times[0]`` is the time of the initial value ``nav[0]``."""
    spells, peak, peak_t, spell = [], nav[0], times[0], None
    for t, v in zip(times, nav, strict=True):
        if v >= peak:
            if spell is not None:
                spell["recovery"] = t
                spells.append(spell)
                spell = None
            peak, peak_t = v, t
        else:
            if spell is None:
                spell = {"start": peak_t, "trough": t, "depth": v / peak - 1, "recovery": None}
            if v / peak - 1 < spell["depth"]:
                spell["depth"], spell["trough"] = v / peak - 1, t
    if spell is not None:
        spells.append(spell)
    for s in spells:
        s["days"] = ((s["recovery"] or times[-1]) - s["start"]) / pd.Timedelta(days=1)
    return sorted(spells, key=lambda s: s["depth"])


def round_trip_pnls(trades: pd.DataFrame, last_close: dict[str, float]) -> list[tuple[str, pd.Timestamp, float]]:
    """Walk the fills one by one, per symbol: (symbol, opened, pnl) of each round trip."""
    trips, state = [], {}
    for row in trades.itertuples(index=False):
        sym = str(row.symbol)
        dq = row.qty if row.side == "buy" else -row.qty
        pos, opened, cash = state.get(sym, (0.0, None, 0.0))
        if pos != 0 and (pos + dq) * pos < 0:  # flip: close at this price, open the rest
            share = abs(pos) / abs(dq)
            cash += pos * row.price - (row.fee + row.slippage) * share
            trips.append((sym, opened, cash))
            pos, opened, cash = pos + dq, row.ts, -(pos + dq) * row.price - (row.fee + row.slippage) * (1 - share)
        else:
            if pos == 0:
                opened, cash = row.ts, 0.0
            pos += dq
            cash += -dq * row.price - row.fee - row.slippage
            if abs(pos) < 1e-9 * abs(row.qty):
                pos = 0.0
                trips.append((sym, opened, cash))
        state[sym] = (pos, opened, cash)
    for sym, (pos, opened, cash) in state.items():
        if pos != 0:
            trips.append((sym, opened, cash + pos * last_close[sym]))
    return trips
