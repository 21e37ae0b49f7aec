"""The Numba engines against the naive reference loop (conftest.reference_backtest), plus
conservation of NAV on every bar and the no-look-ahead property."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cde_backtest.calendar import RebalanceSchedule
from cde_backtest.costs import CostParams
from cde_backtest.engines.cross_sectional import CrossSectionalEngine, CrossSectionalParams
from cde_backtest.engines.time_series import TimeSeriesEngine, TimeSeriesParams

RTOL = 1e-9


def weekly_decisions(panel: pd.DataFrame) -> set:
    """Last bar of each Monday-00:00 week, computed with pandas periods (independently of the engine)."""
    times = pd.DatetimeIndex(panel.index.get_level_values("ts").unique())
    periods = times.tz_convert(None).to_period("W-SUN")
    return {times[k] for k in range(len(times) - 1) if periods[k + 1] != periods[k]}


def every_n(panel: pd.DataFrame, n: int) -> set:
    times = list(panel.index.get_level_values("ts").unique())
    return set(times[n - 1::n][:-1]) if len(times) % n == 0 else set(times[n - 1::n])


def assert_trades_equal(result, ref_trades) -> None:
    trades = result.trades
    assert len(trades) == len(ref_trades)
    ref = pd.DataFrame(ref_trades, columns=["ts", "symbol", "dq", "price", "fee", "slippage", "reason"])
    signed = np.where(trades["side"] == "buy", trades["qty"], -trades["qty"])
    np.testing.assert_array_equal(trades["ts"].to_numpy(), ref["ts"].to_numpy())
    np.testing.assert_array_equal(trades["symbol"].astype(str).to_numpy(), ref["symbol"].to_numpy())
    np.testing.assert_allclose(signed, ref["dq"], rtol=RTOL)
    np.testing.assert_allclose(trades["price"], ref["price"], rtol=RTOL)
    np.testing.assert_allclose(trades["fee"], ref["fee"], rtol=RTOL)
    np.testing.assert_allclose(trades["slippage"], ref["slippage"], rtol=RTOL, atol=1e-12)
    assert list(trades["reason"].astype(str)) == list(ref["reason"])


def assert_conservation(result, panel: pd.DataFrame) -> None:
    """ΔNAV = Σ position P&L − fees − slippage + funding on every bar, P&L rebuilt from the trade log
    and end-of-bar positions (not from the engine's own P&L column)."""
    nav = result.nav
    qty = result.positions.to_numpy()
    close = panel["close"].unstack("symbol").reindex(columns=result.positions.columns).ffill().to_numpy()
    trades = result.trades
    t_index = {ts: k for k, ts in enumerate(nav.index)}
    fill_pnl = np.zeros(len(nav))
    signed = np.where(trades["side"] == "buy", trades["qty"], -trades["qty"])
    cols = {s: j for j, s in enumerate(result.positions.columns)}
    for ts, sym, dq, price in zip(trades["ts"], trades["symbol"].astype(str), signed, trades["price"],
                                  strict=True):
        k = t_index[ts]
        fill_pnl[k] += dq * (close[k, cols[sym]] - price)
    prev_qty = np.vstack([np.zeros((1, qty.shape[1])), qty[:-1]])
    prev_close = np.vstack([close[:1], close[:-1]])
    hold_pnl = np.nansum(prev_qty * (close - prev_close), axis=1)
    position_pnl = hold_pnl + fill_pnl
    prev_nav = np.concatenate([[result.simulation.initial_cash], nav["nav"].to_numpy()[:-1]])
    lhs = nav["nav"].to_numpy() - prev_nav
    rhs = position_pnl - nav["fees"] - nav["slippage"] + nav["funding"]
    np.testing.assert_allclose(lhs, rhs, rtol=0, atol=1e-7 * result.simulation.initial_cash)
    # and the engine's own decomposition agrees with the independent one
    np.testing.assert_allclose(nav["pnl"], position_pnl, rtol=0, atol=1e-7 * result.simulation.initial_cash)
    # per-asset contributions add up to the final P&L
    total = result.contributions["total"].sum()
    assert total == pytest.approx(nav["nav"].iloc[-1] - result.simulation.initial_cash, rel=1e-9)


@pytest.mark.parametrize("execution", ["next_open", "close"])
@pytest.mark.parametrize("cost_model", ["fixed", "volume_range"])
@pytest.mark.parametrize("seed", [0, 1])
def test_backtest_cross_sectional_equals_reference(panel_factory, weights_factory, reference, execution,
                                                   cost_model, seed):
    panel = panel_factory(n_bars=24 * 30, n_symbols=5, seed=seed)
    weights = weights_factory(panel, seed=seed + 10)
    costs = CostParams(model=cost_model, taker_bp=7.0, slippage_bp=3.0, range_share=0.1, impact=0.05)
    params = CrossSectionalParams(execution=execution, costs=costs, initial_cash=1_000.0,
                                  rebalance=RebalanceSchedule(every="week"))
    result = CrossSectionalEngine().run(panel, weights, params)
    extra = {"range_share": 0.1, "impact": 0.05} if cost_model == "volume_range" else {}
    ref = reference(panel, weights, decide_ts=weekly_decisions(panel), execution=execution,
                    initial_cash=1_000.0, fee=7e-4, slip_bp=3.0, **extra)
    np.testing.assert_allclose(result.nav["nav"], ref["nav"], rtol=RTOL)
    np.testing.assert_allclose(result.nav["fees"], ref["fees"], rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(result.nav["slippage"], ref["slippage"], rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(result.nav["funding"], ref["funding"], rtol=RTOL, atol=1e-12)
    assert (result.nav["funding"] != 0).any() and (result.positions < 0).to_numpy().any()
    assert_trades_equal(result, ref["trades"])
    assert_conservation(result, panel)


def test_backtest_cross_sectional_drawdown_stop_equals_reference(panel_factory, weights_factory, reference):
    panel = panel_factory(n_bars=24 * 20, n_symbols=4, seed=3)
    weights = weights_factory(panel, seed=4) * 8  # heavy leverage so the stop fires
    params = CrossSectionalParams(rebalance=RebalanceSchedule(every="day"), initial_cash=5_000.0,
                                  risk={"max_drawdown": 0.1})
    result = CrossSectionalEngine().run(panel, weights, params)
    times = pd.DatetimeIndex(panel.index.get_level_values("ts").unique())
    days = times.floor("D")
    decide = {times[k] for k in range(len(times) - 1) if days[k + 1] != days[k]}
    ref = reference(panel, weights, decide_ts=decide, execution="next_open", initial_cash=5_000.0,
                    fee=5e-4, max_drawdown=0.1)
    assert "risk_stop" in set(result.trades["reason"].astype(str))
    np.testing.assert_allclose(result.nav["nav"], ref["nav"], rtol=RTOL)
    assert_trades_equal(result, ref["trades"])
    stop_ts = result.trades.loc[result.trades["reason"] == "risk_stop", "ts"].iloc[0]
    assert (result.positions.loc[stop_ts:] == 0).all().all()


@pytest.mark.parametrize("execution", ["next_open", "close"])
def test_backtest_time_series_stops_equal_reference(panel_factory, reference, execution):
    panel = panel_factory(n_bars=24 * 15, n_symbols=4, seed=5)
    rng = np.random.default_rng(6)
    # sticky random signals in {-1, 0, 1}: change about every 20 bars
    raw = pd.Series(rng.choice([-1.0, 0.0, 1.0], len(panel)), index=panel.index)
    keep = rng.random(len(panel)) < 0.95
    signal = raw.where(~keep).groupby(level="symbol").ffill().fillna(0.0)
    params = TimeSeriesParams(execution=execution, fraction=0.2, stop_loss=0.01, take_profit=0.015,
                              costs={"taker_bp": 4.0, "slippage_bp": 1.0})
    result = TimeSeriesEngine().run(panel, signal, params)
    # oracle input: weight 0.2 × signal only on bars where the signal changed; NaN elsewhere
    sig = signal.unstack("symbol")
    changed = sig.ne(sig.shift().fillna(0.0))
    changed.iloc[-1] = False  # the last bar never decides
    targets = (0.2 * sig).where(changed).stack(future_stack=True)
    ref = reference(panel, targets.reindex(panel.index), decide_ts=set(sig.index[:-1]), execution=execution,
                    initial_cash=1_000_000.0, fee=4e-4, slip_bp=1.0, cs_mode=False, stop_loss=0.01,
                    take_profit=0.015)
    reasons = set(result.trades["reason"].astype(str))
    assert {"stop_loss", "take_profit", "rebalance"} <= reasons
    np.testing.assert_allclose(result.nav["nav"], ref["nav"], rtol=RTOL)
    assert_trades_equal(result, ref["trades"])
    assert_conservation(result, panel)


def test_backtest_no_look_ahead(panel_factory, weights_factory):
    """Changing every price after bar k never changes NAV, positions or trades up to bar k."""
    panel = panel_factory(n_bars=24 * 21, n_symbols=5, seed=7)
    weights = weights_factory(panel, seed=8)
    params = CrossSectionalParams(rebalance=RebalanceSchedule(every="day"), costs={"model": "volume_range",
                                  "range_share": 0.2, "impact": 0.1})
    base = CrossSectionalEngine().run(panel, weights, params)
    times = panel.index.get_level_values("ts").unique()
    for k in (50, 200, 400):
        cut = times[k]
        shocked = panel.copy()
        future = shocked.index.get_level_values("ts") > cut
        factor = np.exp(np.random.default_rng(k).normal(0, 0.2, future.sum()))
        for col in ("open", "high", "low", "close"):
            shocked.loc[future, col] = shocked.loc[future, col].to_numpy() * factor
        shocked.loc[future, "quote_volume"] *= 3
        other = CrossSectionalEngine().run(shocked, weights, params)
        np.testing.assert_array_equal(other.nav["nav"].loc[:cut], base.nav["nav"].loc[:cut])
        np.testing.assert_array_equal(other.positions.loc[:cut], base.positions.loc[:cut])
        assert other.trades[other.trades.ts <= cut].equals(base.trades[base.trades.ts <= cut])
