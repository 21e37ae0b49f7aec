"""Performance metrics of a NAV path (definitions in docs/backtest.md, "Metrics").

All per-bar statistics use simple returns ``r_t = NAV_t / NAV_{t-1} − 1`` with ``NAV_{-1}`` = the
initial cash. Time is calendar time over a 365-day crypto year: ``years`` runs from the first bar's
open to the end of the last bar (which lasts the mean bar spacing), and ``periods_per_year`` is the
number of bars per such year, so threshold bars (dollar, volume, imbalance …), whose spacing varies
by orders of magnitude, annualise by the calendar instead of a "typical" spacing. For regular time
bars both reduce to the bar interval. The risk-free rate is zero.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, Field

SECONDS_PER_YEAR = 365.0 * 24 * 3600

#: relative size below which a per-bar return, its spread, a drawdown or a P&L sum (relative to the
#: initial cash) is floating-point residue, not money (a double holds ~16 digits; a NAV built from
#: many fills loses a few of them)
NOISE = 1e-12


class Metrics(BaseModel):
    """Summary statistics of one run (what ``metrics.json`` holds)."""

    total_return: float = Field(description="NAV_end / initial cash − 1")
    cagr: float = Field(description="(NAV_end / initial)^(1/years) − 1")
    annual_volatility: float = Field(description="std(r, ddof=1) × sqrt(periods per year)")
    sharpe: float = Field(description="mean(r) / std(r, ddof=1) × sqrt(periods per year)")
    sortino: float = Field(description="mean(r) / sqrt(mean(min(r, 0)²)) × sqrt(periods per year)")
    calmar: float = Field(description="CAGR / max drawdown")
    max_drawdown: float = Field(description="largest fall from a running NAV peak, as a positive fraction")
    max_drawdown_duration_days: float = Field(description="longest time spent below a previous peak, days")
    turnover: float = Field(description="annualised Σ traded notional / NAV before the bar")
    avg_gross_exposure: float = Field(description="mean Σ|position value| / NAV")
    avg_net_exposure: float = Field(description="mean Σ position value / NAV")
    hit_rate: float = Field(description="share of bars with a non-zero return that were positive")
    profit_factor: float = Field(description="Σ positive bar P&L / |Σ negative bar P&L|")
    total_fees: float = Field(description="fees paid, cash")
    total_slippage: float = Field(description="slippage paid, cash")
    total_funding: float = Field(description="funding received (+) or paid (−), cash")
    n_trades: int = Field(description="fills in the trade log")
    periods_per_year: float = Field(description="bars per calendar year (bars / years), used to annualise")
    years: float = Field(description="calendar length of the run in years, first bar's open to last bar's end")


def calendar_years(ts_ns: np.ndarray) -> float:
    """Calendar years from the first bar's open to the end of the last one, the last bar lasting the
    mean spacing: ``(ts[-1] − ts[0]) × n / (n − 1)`` (n bars × the interval, for regular bars)."""
    ts = np.asarray(ts_ns, dtype=np.int64)
    n = len(ts)
    span = float(ts[-1] - ts[0]) / 1e9 if n > 1 else 0.0
    if span <= 0:
        return n / 365.0  # one bar or one instant: count bars as days
    return span * n / (n - 1) / SECONDS_PER_YEAR


def periods_per_year(ts_ns: np.ndarray) -> float:
    """Bars per 365-day calendar year: bars / :func:`calendar_years`."""
    n = len(ts_ns)
    return n / calendar_years(ts_ns) if n > 1 else 365.0


def risk_ratio(gain: float, risk: float, noise: float = NOISE) -> float:
    """``gain / risk`` where ``risk`` ≥ 0; a risk within ``noise`` of zero gives ±inf for a gain and
    NaN for none (a gain within ``noise`` of zero is none), never a huge or zero "plausible" number."""
    if risk > noise:
        return gain / risk
    if abs(gain) <= noise or math.isnan(gain):
        return math.nan
    return math.inf if gain > 0 else -math.inf


def _cagr(growth: float, years: float) -> float:
    """growth^(1/years) − 1; +inf when that overflows a double (a big gain over a few days — said as ∞,
    without numpy's overflow warning on the user's console); −1 for a wiped-out or empty run."""
    if years <= 0 or growth <= 0:
        return -1.0
    try:
        return float(growth ** (1.0 / years) - 1.0)
    except OverflowError:
        return math.inf


def drawdown(nav: np.ndarray) -> np.ndarray:
    """NAV / running peak − 1 (≤ 0)."""
    return nav / np.maximum.accumulate(nav) - 1.0


def max_drawdown_duration(nav: np.ndarray, ts_ns: np.ndarray, initial: float) -> float:
    """Longest time (days) from a NAV peak until NAV first gets back to it, or until the end.

    ``nav[k]`` is valued at bar *k*'s close (``ts[k]`` + one bar) and the initial cash at ``ts[0]``.
    Only time under water counts: a NAV that is at a peak on every bar (flat, or rising) has no
    drawdown and a duration of 0, not one bar; a dip within :data:`NOISE` of the peak is rounding.
    """
    if len(nav) == 0:
        return 0.0
    ts = np.asarray(ts_ns, dtype=np.int64)
    step = int(np.median(np.diff(ts))) if len(ts) > 1 else 0
    times = np.concatenate([[ts[0]], ts + step])
    ext = np.concatenate([[initial], nav])
    peaks = np.flatnonzero(ext >= np.maximum.accumulate(ext) * (1.0 - NOISE))
    spans = np.diff(times[peaks])[np.diff(peaks) > 1]  # peaks with bars under water between them
    tail = int(times[-1] - times[peaks[-1]]) if peaks[-1] < len(ext) - 1 else 0
    longest = max(int(spans.max()) if len(spans) else 0, tail)
    return longest / 86_400e9


def compute_metrics(nav: np.ndarray, ts_ns: np.ndarray, *, initial_cash: float, traded: np.ndarray,
                    gross: np.ndarray, net: np.ndarray, fees: float = 0.0, slippage: float = 0.0,
                    funding: float = 0.0, n_trades: int = 0) -> Metrics:
    """Every metric of :class:`Metrics` from the per-bar arrays of a simulation."""
    nav = np.asarray(nav, dtype=np.float64)
    ppy = periods_per_year(ts_ns)
    prev = np.concatenate([[initial_cash], nav[:-1]])
    r = nav / prev - 1.0
    years = calendar_years(ts_ns) if len(nav) else 0.0
    total = float(nav[-1] / initial_cash - 1.0) if len(nav) else 0.0
    growth = nav[-1] / initial_cash if len(nav) else 1.0
    cagr = _cagr(float(growth), years)
    std = float(np.std(r, ddof=1)) if len(r) > 1 else 0.0
    mean = float(np.mean(r)) if len(r) else 0.0
    downside = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2))) if len(r) else 0.0
    mdd = max(0.0, float(-np.min(drawdown(np.concatenate([[initial_cash], nav])))))  # never −0.0
    bar_pnl = np.diff(np.concatenate([[initial_cash], nav])) / initial_cash
    moved = r[np.abs(r) > NOISE]
    gains = float(bar_pnl[bar_pnl > 0].sum())
    losses = float(-bar_pnl[bar_pnl < 0].sum())
    return Metrics(
        total_return=total, cagr=cagr, annual_volatility=std * math.sqrt(ppy),
        sharpe=risk_ratio(mean, std) * math.sqrt(ppy),
        sortino=risk_ratio(mean, downside) * math.sqrt(ppy),
        calmar=risk_ratio(cagr, mdd),
        max_drawdown=mdd, max_drawdown_duration_days=max_drawdown_duration(nav, ts_ns, initial_cash),
        turnover=float(np.sum(traded / prev) / years) if years > 0 else 0.0,
        avg_gross_exposure=float(np.mean(gross)) if len(gross) else 0.0,
        avg_net_exposure=float(np.mean(net)) if len(net) else 0.0,
        hit_rate=float(np.mean(moved > 0)) if len(moved) else math.nan,
        profit_factor=risk_ratio(gains, losses),
        total_fees=float(fees), total_slippage=float(slippage), total_funding=float(funding),
        n_trades=int(n_trades), periods_per_year=ppy, years=years,
    )
