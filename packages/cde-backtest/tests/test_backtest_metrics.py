"""Every metric against values computed by hand on tiny NAV paths."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from cde_backtest.metrics import compute_metrics, drawdown, max_drawdown_duration, periods_per_year

DAY = 86_400 * 10**9


def _metrics(nav, *, step=DAY, initial=100.0, traded=None, gross=None, net=None, **kw):
    nav = np.asarray(nav, dtype=float)
    ts = np.arange(len(nav), dtype=np.int64) * step
    n = len(nav)
    return compute_metrics(nav, ts, initial_cash=initial,
                           traded=np.zeros(n) if traded is None else np.asarray(traded, float),
                           gross=np.ones(n) if gross is None else np.asarray(gross, float),
                           net=np.zeros(n) if net is None else np.asarray(net, float), **kw)


def test_backtest_periods_per_year():
    assert periods_per_year(np.arange(10) * DAY) == pytest.approx(365.0)
    assert periods_per_year(np.arange(10) * (DAY // 24)) == pytest.approx(8760.0)


def test_backtest_metrics_annualise_irregular_bars_by_calendar_time():
    """Threshold bars: 5 bars opening at hours 0, 1, 2, 3 and 39 (a quiet stretch). The median spacing
    (1 h) would call this 5 hours; the calendar says 39 h from first to last open, plus one mean
    spacing (39/4 h) for the last bar: 48.75 h."""
    hour = DAY // 24
    ts = np.array([0, 1, 2, 3, 39], dtype=np.int64) * hour
    nav = np.array([101.0, 99.99, 102.9897, 101.959803, 104.01])
    m = compute_metrics(nav, ts, initial_cash=100.0, traded=np.zeros(5), gross=np.ones(5), net=np.ones(5))
    years = 48.75 / (365 * 24)
    assert m.years == pytest.approx(years, rel=1e-12)
    assert m.periods_per_year == pytest.approx(5 / years, rel=1e-12)  # 898.46… bars per year
    r = np.array([0.01, -0.01, 0.03, -0.01, 104.01 / 101.959803 - 1])
    mean, std = r.mean(), math.sqrt(((r - r.mean()) ** 2).sum() / 4)
    assert m.cagr == pytest.approx(1.0401 ** (1 / years) - 1, rel=1e-9)
    assert m.annual_volatility == pytest.approx(std * math.sqrt(5 / years), rel=1e-12)
    assert m.sharpe == pytest.approx(mean / std * math.sqrt(5 / years), rel=1e-12)


def test_backtest_calendar_years_of_regular_bars_are_bars_times_interval():
    from cde_backtest.metrics import calendar_years

    hour = DAY // 24
    assert calendar_years(np.arange(24 * 365) * hour) == pytest.approx(1.0, rel=1e-12)
    assert periods_per_year(np.arange(24 * 365) * hour) == pytest.approx(8760.0, rel=1e-12)


def test_backtest_metrics_hand_computed():
    # daily NAV 100 → 110 → 99 → 108.9 → 119.79: returns +10 %, −10 %, +10 %, +10 %
    nav = [110.0, 99.0, 108.9, 119.79]
    m = _metrics(nav, traded=[50, 0, 0, 110], gross=[1, 1, 0.5, 0.5], net=[0.2, 0.2, 0, 0],
                 fees=1.5, slippage=0.5, funding=-0.25, n_trades=3)
    r = np.array([0.1, -0.1, 0.1, 0.1])
    assert m.total_return == pytest.approx(0.1979)
    years = 4 / 365
    assert m.years == pytest.approx(years)
    assert m.cagr == pytest.approx(1.1979 ** (1 / years) - 1)
    std = math.sqrt(((r - 0.05) ** 2).sum() / 3)  # = 0.1
    assert std == pytest.approx(0.1)
    assert m.annual_volatility == pytest.approx(0.1 * math.sqrt(365))
    assert m.sharpe == pytest.approx(0.05 / 0.1 * math.sqrt(365))
    downside = math.sqrt(0.01 / 4)  # only the −10 % bar is below 0
    assert m.sortino == pytest.approx(0.05 / downside * math.sqrt(365))
    assert m.max_drawdown == pytest.approx(0.1)  # 110 → 99
    assert m.calmar == pytest.approx(m.cagr / 0.1)
    # peak 110 at the close of day 0 (t = 1 day); 108.9 is still below it, 119.79 at the close of
    # day 3 (t = 4 days) is the recovery
    assert m.max_drawdown_duration_days == pytest.approx(3.0)
    # turnover: 50/100 + 110/108.9 over 4/365 years
    assert m.turnover == pytest.approx((0.5 + 110 / 108.9) / years)
    assert m.avg_gross_exposure == pytest.approx(0.75)
    assert m.avg_net_exposure == pytest.approx(0.1)
    assert m.hit_rate == pytest.approx(0.75)
    # bar P&L: +10, −11, +9.9, +10.89
    assert m.profit_factor == pytest.approx((10 + 9.9 + 10.89) / 11)
    assert (m.total_fees, m.total_slippage, m.total_funding, m.n_trades) == (1.5, 0.5, -0.25, 3)


def test_backtest_metrics_drawdown_never_recovered():
    nav = [100.0, 120.0, 90.0, 96.0, 100.0]
    m = _metrics(nav)
    assert m.max_drawdown == pytest.approx(0.25)  # 120 → 90
    # peak at close of day 1 (t = 2 days); never recovered until the end (t = 5 days)
    assert m.max_drawdown_duration_days == pytest.approx(3.0)
    np.testing.assert_allclose(drawdown(np.array(nav)), [0, 0, -0.25, -0.2, -1 / 6])
    assert m.hit_rate == pytest.approx(3 / 4)  # first bar has r = 0 and does not count


def test_backtest_metrics_flat_and_losing_edge_cases():
    flat = _metrics([100.0, 100.0, 100.0])
    assert (flat.total_return, flat.max_drawdown, flat.annual_volatility) == (0, 0, 0)
    # no return and no risk: the ratios are undefined, not a plausible 0
    assert all(math.isnan(v) for v in (flat.sharpe, flat.sortino, flat.calmar, flat.profit_factor, flat.hit_rate))
    assert flat.max_drawdown_duration_days == 0.0  # never under water (it said one bar)
    losing = _metrics([90.0, 81.0])
    assert losing.max_drawdown == pytest.approx(0.19)
    assert losing.profit_factor == 0.0
    assert losing.sortino == pytest.approx(-0.1 / 0.1 * math.sqrt(365))
    assert max_drawdown_duration(np.array([90.0, 81.0]), np.array([0, DAY]), 100.0) == pytest.approx(2.0)


def _slow_sharpe(nav: list[float], initial: float, bars_per_year: float) -> float:
    """Sharpe by the textbook, in exact fractions: mean / sample std of the bar returns (NaN for 0/0,
    ±inf for a return without risk)."""
    from fractions import Fraction

    values = [Fraction(initial)] + [Fraction(v) for v in nav]
    r = [b / a - 1 for a, b in itertools.pairwise(values)]
    mean = sum(r) / len(r)
    var = sum((x - mean) ** 2 for x in r) / (len(r) - 1)
    if var == 0:
        return math.nan if mean == 0 else math.copysign(math.inf, mean)
    return float(mean) / math.sqrt(float(var)) * math.sqrt(bars_per_year)


@pytest.mark.parametrize("growth", [1.01, 0.99, 1.0 + 1e-6, 1.001])
def test_backtest_metrics_of_a_steady_curve_are_not_rounding_noise(growth):
    """A NAV growing (or shrinking) by the same factor every bar has no risk: Sharpe, Sortino and (when
    it never falls) Calmar are ±inf like the exact arithmetic's, never 10^15 from the last bits of the
    floating-point returns, nor 0; and a curve that never falls has a max drawdown of +0.0, not −0.0
    (shown as "-0.00 %")."""
    nav = [100.0 * growth ** k for k in range(1, 60)]
    m = _metrics(nav, step=DAY // 24)
    exact = _slow_sharpe([100.0 * growth ** k for k in range(1, 60)], 100.0, m.periods_per_year)
    assert math.isinf(exact) or abs(exact) > 1e6  # the fractions see (almost) no spread
    assert m.sharpe == math.copysign(math.inf, growth - 1)
    if growth > 1:
        assert m.sortino == math.inf and m.calmar == math.inf and m.profit_factor == math.inf
        assert m.max_drawdown == 0 and math.copysign(1.0, m.max_drawdown) == 1.0
        assert m.max_drawdown_duration_days == 0.0  # a curve that only rises is never under water
        assert m.hit_rate == 1.0
    else:
        # every bar loses |r|: downside deviation |r|, Sortino −√P
        assert m.sortino == pytest.approx(-math.sqrt(m.periods_per_year)) and m.profit_factor == 0.0
        assert m.hit_rate == 0.0
        assert m.max_drawdown == pytest.approx(1 - nav[-1] / 100.0)


def test_backtest_metrics_of_a_flat_curve_with_rounding_residue_are_undefined():
    """A NAV that is flat up to its last bit (fees of 1e-13 cash, a mark that rounds) is flat."""
    nav = 1e6 + np.array([0.0, 1e-10, -1e-10, 0.0, 2e-10, 0.0])
    m = _metrics(nav, initial=1e6)
    assert all(math.isnan(v) for v in (m.sharpe, m.sortino, m.calmar, m.profit_factor, m.hit_rate))
    assert m.total_return == pytest.approx(0.0, abs=1e-15) and m.max_drawdown_duration_days == 0.0
    # the rounding floor is far below any real strategy's: returns of ±1e-9 per bar still count
    nav = 100.0 * np.cumprod(1 + np.array([2e-9, -1e-9, 3e-9, -1e-9, 2e-9]))
    m = _metrics(nav)
    r = nav / np.concatenate([[100.0], nav[:-1]]) - 1
    assert m.sharpe == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(365), rel=1e-4)
    assert m.hit_rate == pytest.approx(3 / 5)


def test_backtest_cagr_of_a_short_big_gain_is_infinite_without_a_warning():
    """+25 % a bar for 59 hours annualises beyond a double: CAGR ∞, and no numpy overflow warning
    printed on the user's console."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = _metrics([100.0 * 1.25 ** k for k in range(1, 60)], step=DAY // 24)
    assert m.cagr == math.inf and m.calmar == math.inf
