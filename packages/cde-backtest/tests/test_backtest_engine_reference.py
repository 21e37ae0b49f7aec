"""The Numba engines against the naive reference loop (conftest.reference_backtest), plus
conservation of NAV on every bar and the no-look-ahead property. Missing bars and delistings: an
order waits for its symbol's next bar, a silent symbol is closed at its last price (trade log reason
``delisted``), and the engines still equal the reference loop."""

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

def _bars(closes: dict[str, list[float | None]], start: str = "2024-01-01") -> pd.DataFrame:
    """Hourly bars with open = close − 0.5; ``None`` = no bar for that symbol at that hour."""
    ts = pd.date_range(start, periods=len(next(iter(closes.values()))), freq="h", tz="UTC")
    frames = []
    for symbol, values in closes.items():
        close = pd.Series(values, index=ts, dtype=float)
        opens = close - 0.5
        frame = pd.DataFrame({"symbol": symbol, "open": opens, "high": np.maximum(opens, close) * 1.001,
                              "low": np.minimum(opens, close) * 0.999, "close": close, "volume": 10.0,
                              "quote_volume": 10.0 * close}, index=pd.Index(ts, name="ts"))
        frames.append(frame[close.notna()])
    return pd.concat(frames).reset_index().set_index(["ts", "symbol"]).sort_index()


def test_time_series_exit_waits_for_the_next_bar_when_its_bar_is_missing():
    """Signal long on bars 0–2, flat from bar 3; bar 4 (where the exit should fill) is missing: the
    exit fills at bar 5's open, and the position is not held until the signal changes again."""
    closes = [100.0, 101, 102, 103, None, 105, 106, 107, 108, 109]
    panel = _bars({"AAAUSDT": closes, "BBBUSDT": [50.0 + k for k in range(10)]})
    signal = pd.Series(0.0, index=panel.index)
    signal.loc[(slice(None), "AAAUSDT")] = [1.0, 1, 1, 0, 0, 0, 0, 0, 0]  # 9 bars of AAA (one missing)
    result = TimeSeriesEngine().run(panel, signal, TimeSeriesParams(fraction=0.5, costs={"taker_bp": 0.0}))
    trades = result.trades
    aaa = trades[trades["symbol"] == "AAAUSDT"]
    assert list(aaa["side"]) == ["buy", "sell"]
    ts = panel.index.get_level_values("ts").unique()
    assert aaa["ts"].iloc[0] == ts[1] and aaa["ts"].iloc[1] == ts[5]
    assert list(aaa["price"]) == [100.5, 104.5]  # opens of bars 1 and 5
    assert (result.positions["AAAUSDT"].iloc[5:] == 0).all()


def test_time_series_missing_bar_is_not_a_signal_change():
    """A long held through a one-bar hole is neither sold nor bought back: no information is no order."""
    panel = _bars({"AAAUSDT": [100.0, 101, 102, None, 104, 105], "BBBUSDT": [50.0, 51, 52, 53, 54, 55]})
    signal = pd.Series(0.0, index=panel.index)
    signal.loc[(slice(None), "AAAUSDT")] = 1.0
    result = TimeSeriesEngine().run(panel, signal, TimeSeriesParams(fraction=0.5))
    assert list(result.trades["side"]) == ["buy"]


def test_delisted_symbol_is_closed_at_its_last_price_after_the_configured_bars():
    closes = [100.0, 102, 104, 106] + [None] * 8
    panel = _bars({"DEADUSDT": closes, "LIVEUSDT": [50.0 + k for k in range(12)]})
    weights = pd.Series(0.0, index=panel.index)
    weights.loc[(slice(None), "DEADUSDT")] = 0.5
    params = CrossSectionalParams(rebalance=RebalanceSchedule(every="bar"), delist_after_bars=3,
                                  costs={"taker_bp": 10.0})
    result = CrossSectionalEngine().run(panel, weights, params)
    forced = result.trades[result.trades["reason"] == "delisted"]
    assert len(forced) == 1
    ts = panel.index.get_level_values("ts").unique()
    assert forced["ts"].iloc[0] == ts[3 + 3]  # third bar without data after the last bar (hour 3)
    assert forced["price"].iloc[0] == 106.0  # its last close
    assert forced["fee"].iloc[0] == pytest.approx(forced["notional"].iloc[0] * 10e-4)
    assert (result.positions["DEADUSDT"].iloc[6:] == 0).all()
    # the run says so: a notice for the report, the CLI and the API result
    from cde_backtest.report import ReportInputs, build_report
    from cde_backtest.run_notices import run_notices

    notices = run_notices(result.simulation)
    assert len(notices) == 1 and "1 forced exit(s)" in notices[0]
    assert "DEADUSDT at 106.0 on 2024-01-01 06:00" in notices[0]
    page = build_report(ReportInputs(title="t", nav=result.nav, contributions=result.contributions,
                                     metrics=result.metrics, initial_cash=result.simulation.initial_cash,
                                     trades=result.trades, notices=notices))
    box = page.split('<div class="notice">', 1)[1].split("</div>", 1)[0]  # the warning box above the metrics
    assert "forced exit(s)" in box and "DEADUSDT at 106.0" in box
    # with delisting switched off the position stays open to the end, valued at 106
    kept = CrossSectionalEngine().run(panel, weights, params.model_copy(update={"delist_after_bars": None}))
    assert "delisted" not in set(kept.trades["reason"].astype(str))
    assert kept.positions["DEADUSDT"].iloc[-1] > 0
    assert run_notices(kept.simulation) == [  # the stale valuation is said, not hidden
        "open at the end but valued at an old close (no bar since): DEADUSDT since 2024-01-01 03:00 (8 bars) "
        "(engine.delist_after_bars closes such positions earlier)"]


def test_delisting_counts_the_symbols_own_bar_spacing_not_panel_rows():
    """A quiet threshold-bar symbol with a bar every 4 rows is not 'delisted' after 3 empty rows."""
    quiet = [100.0 if k % 4 == 0 else None for k in range(24)]
    panel = _bars({"QUIETUSDT": quiet, "BUSYUSDT": [50.0 + k for k in range(24)]})
    weights = pd.Series(0.0, index=panel.index)
    weights.loc[(slice(None), "QUIETUSDT")] = 0.5
    params = CrossSectionalParams(rebalance=RebalanceSchedule(every="bar"), delist_after_bars=3)
    result = CrossSectionalEngine().run(panel, weights, params)
    assert "delisted" not in set(result.trades["reason"].astype(str))


def _holed_panel(panel_factory, seed: int) -> pd.DataFrame:
    """A random panel with 5 % of bars missing at random and one symbol delisted two-thirds through."""
    panel = panel_factory(n_bars=24 * 20, n_symbols=5, seed=seed)
    rng = np.random.default_rng(seed + 100)
    keep = rng.random(len(panel)) > 0.05
    ts = panel.index.get_level_values("ts")
    symbols = panel.index.get_level_values("symbol")
    keep &= ~((symbols == "S01USDT") & (ts >= ts.unique()[len(ts.unique()) * 2 // 3]))
    return panel[keep]


@pytest.mark.parametrize("execution", ["next_open", "close"])
@pytest.mark.parametrize("seed", [0, 1])
def test_cross_sectional_with_holes_and_a_delisting_equals_reference(panel_factory, weights_factory, reference,
                                                                     execution, seed):
    panel = _holed_panel(panel_factory, seed)
    weights = weights_factory(panel, seed=seed + 20)
    params = CrossSectionalParams(execution=execution, initial_cash=10_000.0, delist_after_bars=5,
                                  rebalance=RebalanceSchedule(every="day"), costs={"taker_bp": 6.0})
    result = CrossSectionalEngine().run(panel, weights, params)
    ref = reference(panel, weights, decide_ts=_daily(panel), execution=execution,
                    initial_cash=10_000.0, fee=6e-4, delist_after_bars=5)
    assert "delisted" in set(result.trades["reason"].astype(str))
    np.testing.assert_allclose(result.nav["nav"], ref["nav"], rtol=RTOL)
    assert_trades_equal(result, ref["trades"])
    assert_conservation(result, panel)


@pytest.mark.parametrize("execution", ["next_open", "close"])
def test_time_series_every_bar_with_holes_equals_reference(panel_factory, weights_factory, reference, execution):
    """Per-bar orders on a holed panel: orders for a missing bar wait; the oracle sees the same targets."""
    panel = _holed_panel(panel_factory, 3)
    weights = weights_factory(panel, seed=30, nan_share=0.3).clip(-1, 1)
    params = TimeSeriesParams(execution=execution, fraction=0.3, trade_on="every_decision", delist_after_bars=4,
                              costs={"taker_bp": 4.0})
    result = TimeSeriesEngine().run(panel, weights, params)
    times = panel.index.get_level_values("ts").unique()
    # the engine's targets: 0.3 × signal (NaN → 0) on every bar, a missing bar repeats the last signal
    wide = weights.unstack("symbol").reindex(times)
    present = panel["close"].unstack("symbol").reindex(times).notna()
    carried = wide.where(present).fillna(0.0).where(present).ffill().fillna(0.0)
    targets = (0.3 * carried).stack(future_stack=True)
    ref = reference(panel, targets, decide_ts=set(times[:-1]), execution=execution, initial_cash=1_000_000.0,
                    fee=4e-4, cs_mode=False, delist_after_bars=4)
    np.testing.assert_allclose(result.nav["nav"], ref["nav"], rtol=RTOL)
    assert_trades_equal(result, ref["trades"])
    assert_conservation(result, panel)


def _daily(panel: pd.DataFrame) -> set:
    times = pd.DatetimeIndex(panel.index.get_level_values("ts").unique())
    days = times.floor("D")
    return {times[k] for k in range(len(times) - 1) if days[k + 1] != days[k]}


@pytest.mark.parametrize("execution", ["next_open", "close"])
def test_a_wiped_out_account_is_closed_out_and_stops_trading(panel_factory, weights_factory, reference, execution):
    """Weights of 30× on random bars drive NAV below zero: every position is closed (risk_stop), the run
    stays flat, the reference loop agrees, and the run's notices say so."""
    from cde_backtest.run_notices import run_notices

    panel = panel_factory(n_bars=24 * 20, n_symbols=4, seed=9)
    weights = weights_factory(panel, seed=10) * 30
    params = CrossSectionalParams(rebalance=RebalanceSchedule(every="day"), initial_cash=10_000.0, execution=execution,
                                  risk={"max_leverage": None})
    result = CrossSectionalEngine().run(panel, weights, params)
    ref = reference(panel, weights, decide_ts=_daily(panel), execution=execution, initial_cash=10_000.0, fee=5e-4)
    nav = result.nav["nav"].to_numpy()
    assert (nav <= 0).any()
    np.testing.assert_allclose(nav, ref["nav"], rtol=RTOL)
    assert_trades_equal(result, ref["trades"])
    broke = result.nav.index[np.argmax(nav <= 0)]
    closing = result.trades[result.trades["ts"] > broke] if execution == "next_open" else \
        result.trades[result.trades["ts"] >= broke]
    assert set(closing["reason"].astype(str)) == {"risk_stop"}
    assert (result.positions.iloc[-1] == 0).all()
    assert any("wiped out" in n for n in run_notices(result.simulation))
