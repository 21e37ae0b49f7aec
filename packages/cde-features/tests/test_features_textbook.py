"""Standard indicators against their textbook definitions on small hand-computed fixtures."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cde_core.plugins import get_plugins


def factor(name: str):
    return get_plugins().factors.get(name)


def bars(close, high=None, low=None, open_=None, volume=None) -> pd.DataFrame:
    close = np.asarray(close, dtype=float)
    n = len(close)
    frame = pd.DataFrame({
        "open": close if open_ is None else np.asarray(open_, float),
        "high": close if high is None else np.asarray(high, float),
        "low": close if low is None else np.asarray(low, float),
        "close": close,
        "volume": np.ones(n) if volume is None else np.asarray(volume, float),
    }, index=pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC", name="ts"))
    return frame


def run(name: str, frame: pd.DataFrame, **params) -> pd.DataFrame:
    f = factor(name)
    return f.compute(frame, f.Params(**params))


def test_rsi_wilder_smoothing() -> None:
    # changes +1, -0.5, +1, +0.5, -1; n = 3
    # bar 3: avg gain 2/3, avg loss 1/6 → RS 4 → 80
    # bar 4: gain (2/3·2 + 0.5)/3 = 11/18, loss (1/6·2)/3 = 1/9 → RS 5.5 → 100 − 100/6.5
    # bar 5: gain (11/18·2)/3 = 11/27, loss (1/9·2 + 1)/3 = 11/27 → 50
    out = run("rsi", bars([10, 11, 10.5, 11.5, 12, 11]), window=3)["rsi_3"].to_numpy()
    assert np.isnan(out[:3]).all()
    np.testing.assert_allclose(out[3:], [80.0, 100 - 100 / 6.5, 50.0])


def test_rsi_without_losses_is_100() -> None:
    out = run("rsi", bars([1, 2, 3, 4, 5]), window=2)["rsi_2"].to_numpy()
    np.testing.assert_allclose(out[2:], [100.0, 100.0, 100.0])


def test_atr_wilder() -> None:
    high = [10, 12, 13, 12, 15]
    low = [8, 9, 11, 10, 12]
    close = [9, 11, 12, 11, 14]
    # TR from bar 1: max(3, 3, 0)=3; max(2, 2, 0)=2; max(2, 0, 2)=2; max(3, 4, 1)=4
    # ATR(2): bar 2 = (3+2)/2 = 2.5; bar 3 = (2.5·1 + 2)/2 = 2.25; bar 4 = (2.25 + 4)/2 = 3.125
    out = run("atr", bars(close, high, low), window=2)["atr_2"].to_numpy()
    assert np.isnan(out[:2]).all()
    np.testing.assert_allclose(out[2:], [2.5, 2.25, 3.125])


def test_macd_with_talib_seeding() -> None:
    # closes 1 3 2 5 4 6, TA-Lib's seeding: both EMAs start at bar slow − 1 = 2.
    # EMA3 (α 1/2) seeded with (1+3+2)/3 = 2: 2, 7/2, 15/4, 39/8
    # EMA2 (α 2/3) seeded with the mean of the 2 closes ending at bar 2, 5/2: 5/2, 25/6, 73/18, 289/54
    # MACD from bar 2: 1/2, 2/3, 11/36, 103/216; signal EMA2 seeded at bar 3 with 7/12: 7/12, 43/108, 73/162
    out = run("macd", bars([1, 3, 2, 5, 4, 6]), fast=2, slow=3, signal=2)
    np.testing.assert_allclose(out["macd_2_3_2"].to_numpy()[2:], [1 / 2, 2 / 3, 11 / 36, 103 / 216])
    np.testing.assert_allclose(out["macd_signal_2_3_2"].to_numpy()[3:], [7 / 12, 43 / 108, 73 / 162])
    np.testing.assert_allclose(out["macd_hist_2_3_2"].to_numpy()[3:], [1 / 12, -5 / 54, 17 / 648])
    assert factor("macd").lookback(factor("macd").Params(fast=2, slow=3, signal=2)) == 3


def test_adx_against_a_slow_loop() -> None:
    rng = np.random.default_rng(0)
    close = 100 + np.cumsum(rng.normal(0, 1, 60))
    high = close + rng.uniform(0.1, 1.5, 60)
    low = close - rng.uniform(0.1, 1.5, 60)
    n = 5
    # Wilder's running sums seeded as TA-Lib seeds them: the sum of the first n − 1 values, then
    # S ← S − S/n + x from bar n on (Wilder's book starts from the sum of the first n instead)
    tr, pdm, mdm = [], [], []
    for i in range(1, 60):
        tr.append(max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1])))
        up, down = high[i] - high[i - 1], low[i - 1] - low[i]
        pdm.append(up if up > down and up > 0 else 0.0)
        mdm.append(down if down > up and down > 0 else 0.0)
    s_tr, s_p, s_m = sum(tr[:n - 1]), sum(pdm[:n - 1]), sum(mdm[:n - 1])
    dxs, plus = [], []
    for j in range(n - 1, 59):
        s_tr, s_p, s_m = s_tr - s_tr / n + tr[j], s_p - s_p / n + pdm[j], s_m - s_m / n + mdm[j]
        p, m = 100 * s_p / s_tr, 100 * s_m / s_tr
        plus.append(p)
        dxs.append(100 * abs(p - m) / (p + m))
    adx = [sum(dxs[:n]) / n]
    for d in dxs[n:]:
        adx.append((adx[-1] * (n - 1) + d) / n)
    out = run("adx", bars(close, high, low), window=n)
    np.testing.assert_allclose(out[f"plus_di_{n}"].to_numpy()[n:], plus)
    np.testing.assert_allclose(out[f"adx_{n}"].to_numpy()[2 * n - 1:], adx)


def test_corwin_schultz_single_pair() -> None:
    h, lo = [101.0, 101.5], [99.0, 99.6]
    beta = math.log(101 / 99) ** 2 + math.log(101.5 / 99.6) ** 2
    gamma = math.log(101.5 / 99.0) ** 2
    k = 3 - 2 * math.sqrt(2)
    alpha = (math.sqrt(2 * beta) - math.sqrt(beta)) / k - math.sqrt(gamma / k)
    spread = max(2 * (math.exp(alpha) - 1) / (1 + math.exp(alpha)), 0.0)
    out = run("corwin_schultz", bars([100, 100.5], h, lo), window=1)["corwin_schultz_1"].to_numpy()
    assert np.isnan(out[0]) and out[1] == pytest.approx(spread)


def test_roll_spread_for_bid_ask_bounce() -> None:
    # a pure bounce between 99 and 101: Δp alternates, autocovariance negative
    close = [99, 101] * 10
    r = np.log(np.asarray(close[1:], float) / np.asarray(close[:-1], float))
    cov = np.cov(r[-5:], r[-6:-1], ddof=1)[0, 1]
    out = run("roll_spread", bars(close), window=5)["roll_spread_5"].iloc[-1]
    assert out == pytest.approx(2 * math.sqrt(-cov))


def test_obv_window_is_the_change_of_textbook_obv() -> None:
    close = [10, 11, 10, 10, 12, 13]
    volume = [5, 2, 3, 4, 6, 1]
    obv = [0, 2, -1, -1, 5, 6]  # Granville: +V on up, −V on down, unchanged when flat
    out = run("obv", bars(close, volume=volume), window=3)["obv_3"].to_numpy()
    for t in (3, 4, 5):
        assert out[t] == pytest.approx((obv[t] - obv[t - 3]) / sum(volume[t - 2:t + 1]))


def test_cross_sectional_rank_zscore_demean() -> None:
    idx = pd.MultiIndex.from_product([pd.date_range("2024-01-01", periods=2, freq="1h", tz="UTC"),
                                      ["A", "B", "C", "D"]], names=["ts", "symbol"])
    panel = pd.DataFrame({"x": [1.0, 3.0, 2.0, np.nan, 5.0, 5.0, 1.0, 2.0]}, index=idx)
    rank = factor("cs_rank").compute(panel, factor("cs_rank").Params(source="x"))["x_csrank"].to_numpy()
    np.testing.assert_allclose(rank, [1 / 3, 1.0, 2 / 3, np.nan, 0.875, 0.875, 0.25, 0.5])
    z = factor("cs_zscore").compute(panel, factor("cs_zscore").Params(source="x"))["x_csz"].to_numpy()
    np.testing.assert_allclose(z[:3], [-1.0, 1.0, 0.0])
    dm = factor("cs_demean").compute(panel, factor("cs_demean").Params(source="x"))["x_csdm"].to_numpy()
    np.testing.assert_allclose(dm[4:], [1.75, 1.75, -2.25, -1.25])


def test_alpha_101_and_041_by_hand() -> None:
    idx = pd.MultiIndex.from_product([pd.date_range("2024-01-01", periods=1, freq="1h", tz="UTC"),
                                      ["A", "B"]], names=["ts", "symbol"])
    panel = pd.DataFrame({"open": [10.0, 20.0], "high": [12.0, 21.0], "low": [9.0, 18.0], "close": [11.0, 19.0],
                          "volume": [1.0, 2.0], "vwap": [10.5, 19.5]}, index=idx)
    a101 = factor("alpha_101").compute(panel, factor("alpha_101").Params())["alpha_101"].to_numpy()
    np.testing.assert_allclose(a101, [1 / 3.001, -1 / 3.001])
    a041 = factor("alpha_041").compute(panel, factor("alpha_041").Params())["alpha_041"].to_numpy()
    np.testing.assert_allclose(a041, [math.sqrt(108) - 10.5, math.sqrt(378) - 19.5])
