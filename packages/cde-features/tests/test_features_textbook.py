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


def test_macd_with_sma_seeded_emas() -> None:
    # closes 1 3 2 5 4 6; EMA2 (α 2/3) seeded at bar 1 with 2: 2, 2, 4, 4, 16/3
    # EMA3 (α 1/2) seeded at bar 2 with 2: 2, 3.5, 3.75, 4.875
    # MACD from bar 2: 0, 0.5, 0.25, 16/3 − 4.875; signal EMA2 seeded at bar 3 with 0.25
    out = run("macd", bars([1, 3, 2, 5, 4, 6]), fast=2, slow=3, signal=2)
    macd = 16 / 3 - 4.875
    signal5 = 2 / 3 * macd + 1 / 3 * 0.25
    np.testing.assert_allclose(out["macd_2_3_2"].to_numpy()[2:], [0.0, 0.5, 0.25, macd])
    np.testing.assert_allclose(out["macd_signal_2_3_2"].to_numpy()[3:], [0.25, 0.25, signal5])
    np.testing.assert_allclose(out["macd_hist_2_3_2"].to_numpy()[3:], [0.25, 0.0, macd - signal5])
    assert factor("macd").lookback(factor("macd").Params(fast=2, slow=3, signal=2)) == 3


def test_stochastic_and_williams_r() -> None:
    high = [10, 11, 12, 11, 10]
    low = [8, 9, 10, 9, 7]
    close = [9, 10, 11, 10, 8]
    # window 3: bar 2: HH 12, LL 8 → %K = 100·3/4 = 75; bar 3: HH 12, LL 9 → 100/3; bar 4: HH 12, LL 7 → 20
    out = run("stoch", bars(close, high, low), window=3, smooth=2)
    np.testing.assert_allclose(out["stoch_k_3"].to_numpy()[2:], [75.0, 100 / 3, 20.0])
    np.testing.assert_allclose(out["stoch_d_3_2"].to_numpy()[3:], [(75 + 100 / 3) / 2, (100 / 3 + 20) / 2])
    willr = run("willr", bars(close, high, low), window=3)["willr_3"].to_numpy()
    np.testing.assert_allclose(willr[2:], [-25.0, -100 * 2 / 3, -80.0])


def test_parkinson_garman_klass_rogers_satchell() -> None:
    o, h, lo, c = [100, 101], [102, 104], [99, 100], [101, 103]
    frame = bars(c, h, lo, o)
    hl = [math.log(102 / 99), math.log(104 / 100)]
    park = math.sqrt((hl[0] ** 2 + hl[1] ** 2) / 2 / (4 * math.log(2)))
    co = [math.log(101 / 100), math.log(103 / 101)]
    gk = math.sqrt(sum(0.5 * a * a - (2 * math.log(2) - 1) * b * b for a, b in zip(hl, co, strict=True)) / 2)
    rs_terms = [math.log(hh / cc) * math.log(hh / oo) + math.log(ll / cc) * math.log(ll / oo)
                for oo, hh, ll, cc in zip(o, h, lo, c, strict=True)]
    rs = math.sqrt(sum(rs_terms) / 2)
    assert run("vol_parkinson", frame, window=2)["vol_parkinson_2"].iloc[1] == pytest.approx(park)
    assert run("vol_gk", frame, window=2)["vol_gk_2"].iloc[1] == pytest.approx(gk)
    assert run("vol_rs", frame, window=2)["vol_rs_2"].iloc[1] == pytest.approx(rs)


def test_yang_zhang() -> None:
    o = [100, 101, 103, 102]
    h = [102, 104, 105, 104]
    lo = [99, 100, 101, 100]
    c = [101, 103, 102, 103]
    n = 3
    overnight = [math.log(o[i] / c[i - 1]) for i in (1, 2, 3)]
    open_close = [math.log(c[i] / o[i]) for i in (1, 2, 3)]
    rs = [math.log(h[i] / c[i]) * math.log(h[i] / o[i]) + math.log(lo[i] / c[i]) * math.log(lo[i] / o[i])
          for i in (1, 2, 3)]
    k = 0.34 / (1.34 + (n + 1) / (n - 1))
    var = np.var(overnight, ddof=1) + k * np.var(open_close, ddof=1) + (1 - k) * np.mean(rs)
    out = run("vol_yz", bars(c, h, lo, o), window=n)["vol_yz_3"].to_numpy()
    assert np.isnan(out[:3]).all()
    assert out[3] == pytest.approx(math.sqrt(var))


def test_close_to_close_vol_and_returns() -> None:
    close = [100, 110, 99, 108.9]
    r = [math.log(110 / 100), math.log(99 / 110), math.log(108.9 / 99)]
    assert run("vol_cc", bars(close), window=3)["vol_cc_3"].iloc[3] == pytest.approx(np.std(r, ddof=1))
    assert run("ret_simple", bars(close), window=2)["ret_simple_2"].iloc[3] == pytest.approx(108.9 / 110 - 1)
    assert run("ret_log", bars(close), window=3)["ret_log_3"].iloc[3] == pytest.approx(math.log(1.089))


def test_adx_against_a_slow_loop() -> None:
    rng = np.random.default_rng(0)
    close = 100 + np.cumsum(rng.normal(0, 1, 60))
    high = close + rng.uniform(0.1, 1.5, 60)
    low = close - rng.uniform(0.1, 1.5, 60)
    n = 5
    # Wilder's original running sums: S_n = S_{n-1} − S_{n-1}/n + x
    tr, pdm, mdm = [], [], []
    for i in range(1, 60):
        tr.append(max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1])))
        up, down = high[i] - high[i - 1], low[i - 1] - low[i]
        pdm.append(up if up > down and up > 0 else 0.0)
        mdm.append(down if down > up and down > 0 else 0.0)
    s_tr, s_p, s_m = sum(tr[:n]), sum(pdm[:n]), sum(mdm[:n])
    dxs, plus = [], []
    for j in range(n - 1, 59):
        if j > n - 1:
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
