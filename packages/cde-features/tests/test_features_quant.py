"""The quant-desk factors: hand-computed values from the published definitions, the pandas references
of the perp set, the market model against an explicit OLS, and the perpetual factors' lake inputs
(funding known only from its calc_time on; spot basis; clear errors when the data is absent).
No look-ahead of every one of them is proven in test_features_lookahead.py (the ``perp`` set)."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from cde_core.errors import DataError, NotFoundError
from cde_core.lake import Lake, Provenance
from cde_core.local_executor import LocalExecutor, LocalExecutorParams
from cde_core.plugins import get_plugins
from cde_core.schemas import BARS_SCHEMA, FUNDING_SCHEMA
from cde_features.calculator import UnifiedFeatureCalculator, compute_features
from cde_features.reference import reference_features
from cde_features.service import ComputeRequest, compute_to_lake
from cde_features.synthetic import synthetic_bars, synthetic_panel, with_perp_inputs

EXEC = LocalExecutor(LocalExecutorParams(max_workers=1))


def _one(name: str, bars: pd.DataFrame, **params: object) -> np.ndarray:
    factor = get_plugins().factors.get(name)
    frame = factor.compute(bars, factor.Params(**params))
    return frame.iloc[:, 0].to_numpy()


def _bars(close: list[float], **cols: list[float]) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=len(close), freq="1h", tz="UTC", name="ts")
    data = {"open": close, "high": close, "low": close, "close": close, "volume": [1.0] * len(close),
            "quote_volume": [1.0] * len(close), "buy_volume": [0.5] * len(close)}
    data.update(cols)
    return pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in data.items()}, index=index)


# -- hand-computed values ------------------------------------------------------------------------------
def test_band_and_oscillator_values_by_hand() -> None:
    b = _bars([1.0, 2.0, 3.0])
    sd = math.sqrt(2.0 / 3.0)  # population std of 1, 2, 3
    assert _one("bb_pctb", b, window=3)[2] == pytest.approx((3 - (2 - 2 * sd)) / (4 * sd))
    assert _one("bb_width", b, window=3)[2] == pytest.approx(4 * sd / 2)
    hl = _bars([2.0, 3.0], high=[2.0, 4.0], low=[1.0, 3.0])
    assert _one("donchian_width", hl, window=2)[1] == pytest.approx((4 - 1) / 2.5)
    cmo = _one("cmo", _bars([1.0, 2.0, 1.0, 3.0]), window=3)  # moves +1, -1, +2
    assert np.isnan(cmo[:3]).all() and cmo[3] == pytest.approx(100 * (3 - 1) / (3 + 1))
    # KAMA(2): seed 2 at bar 1; bar 2: ER = |3-1| / (1+1) = 1, sc = (2/3)^2
    kama = 2 + (2 / 3) ** 2 * (3 - 2)
    assert _one("kama_ratio", _bars([1.0, 2.0, 3.0]), window=2)[2] == pytest.approx(3 / kama - 1)


def test_trix_and_keltner_by_hand() -> None:
    closes = [10.0, 11.0, 12.0, 11.0, 13.0, 14.0]
    # TRIX(2): each EMA (alpha 2/3) is seeded with the mean of its first two inputs
    e1 = [np.nan, 10.5]
    for c in closes[2:]:
        e1.append(e1[-1] + 2 / 3 * (c - e1[-1]))
    e2 = [np.nan, np.nan, (e1[1] + e1[2]) / 2]
    for v in e1[3:]:
        e2.append(e2[-1] + 2 / 3 * (v - e2[-1]))
    e3 = [np.nan] * 3 + [(e2[2] + e2[3]) / 2]
    for v in e2[4:]:
        e3.append(e3[-1] + 2 / 3 * (v - e3[-1]))
    trix = _one("trix", _bars(closes), window=2)
    assert np.isnan(trix[:4]).all()
    assert trix[4] == pytest.approx(100 * (e3[4] / e3[3] - 1)) and trix[5] == pytest.approx(100 * (e3[5] / e3[4] - 1))
    # Keltner width with flat bars: TR = |C_t - C_{t-1}|, ATR(10) = mean of the first ten TRs at bar 10
    steps = [100.0 + (i % 2) for i in range(11)]
    width = _one("keltner_width", _bars(steps), window=2)
    ema = steps[1] / 2 + steps[0] / 2
    for c in steps[2:]:
        ema += 2 / 3 * (c - ema)
    assert np.isnan(width[:10]).all() and width[10] == pytest.approx(4 * 1.0 / ema)


def test_momentum_drawdown_vpin_ewma_by_hand() -> None:
    b = _bars([1.0, 2.0, 1.5, 3.0, 1.5], volume=[10, 10, 10, 10, 10], buy_volume=[7, 2, 5, 5, 5])
    mom = _one("mom_skip", b, window=3, skip=1)
    assert np.isnan(mom[:3]).all() and mom[3] == pytest.approx(math.log(1.5 / 1.0))
    assert mom[4] == pytest.approx(math.log(3.0 / 2.0))
    assert _one("max_drawdown", b, window=5)[4] == pytest.approx(0.5)  # 3 → 1.5
    assert _one("max_drawdown", b, window=2)[2] == pytest.approx(0.25)  # 2 → 1.5
    assert _one("vpin", b, window=2)[1] == pytest.approx((abs(14 - 10) + abs(4 - 10)) / 20)
    r1, r2 = math.log(2.0), math.log(0.75)
    ewma = _one("vol_ewma", b, window=1)  # half-life 1 bar: alpha = 1/2, seeded with r1²
    assert np.isnan(ewma[0]) and ewma[1] == pytest.approx(abs(r1))
    assert ewma[2] == pytest.approx(math.sqrt(0.5 * r1 * r1 + 0.5 * r2 * r2))
    ldv = _one("log_dollar_volume", _bars([1.0, 1.0], quote_volume=[100.0, 300.0]), window=2)
    assert ldv[1] == pytest.approx(math.log(200.0))


def test_seasonality_averages_the_same_slot_of_past_cycles() -> None:
    close = np.exp(np.cumsum(np.random.default_rng(3).normal(0, 0.01, 60)))
    r = np.diff(np.log(close), prepend=np.nan)
    hod = _one("season_hod", _bars(list(close)), period=4, cycles=3)
    t = 20  # the next bar is t + 1; its slot on past days: t + 1 - 4, t + 1 - 8, t + 1 - 12
    assert hod[t] == pytest.approx(np.mean([r[t - 3], r[t - 7], r[t - 11]]))
    assert np.isnan(hod[:12]).all() and np.isfinite(hod[12])
    dow = _one("season_dow", _bars(list(close)), period=2, cycles=2)  # weeks of 14 bars
    t = 40  # the next day: bars t+1, t+2; the same weekday 1 and 2 weeks ago
    x = np.log(close)
    assert dow[t] == pytest.approx(np.mean([x[t + 2 - 14] - x[t - 14], x[t + 2 - 28] - x[t - 28]]))
    assert np.isnan(dow[:28]).all() and np.isfinite(dow[28])


def test_hurst_is_a_half_for_a_random_walk_and_low_when_mean_reverting() -> None:
    rng = np.random.default_rng(0)
    walk = np.exp(np.cumsum(rng.normal(0, 0.01, 6000)))
    assert _one("hurst", _bars(list(walk)), window=5000)[-1] == pytest.approx(0.5, abs=0.05)
    noise = np.exp(rng.normal(0, 0.01, 6000))  # white-noise prices: σ(τ) flat in τ
    assert abs(_one("hurst", _bars(list(noise)), window=5000)[-1]) < 0.05
    # one explicit window: slope of ln std(x_i - x_{i-τ}) on ln τ, all pairs inside the last 64 prices
    x = np.log(walk[:300])
    lags = [1, 2, 4, 8, 16]
    stds = [np.std(x[-64:][lag:] - x[-64:][:-lag]) for lag in lags]
    expected = np.polyfit(np.log(lags), np.log(stds), 1)[0]
    assert _one("hurst", _bars(list(walk[:300])), window=64)[-1] == pytest.approx(expected, rel=1e-9)


# -- market model -------------------------------------------------------------------------------------
def test_market_model_equals_an_explicit_ols() -> None:
    panel = synthetic_panel(["AAAUSDT", "BBBUSDT", "BTCUSDT"], 300, seed=4)
    out = compute_features(panel, ["market_beta"], params={"market_beta": {"window": 50}}, executor=EXEC)
    close = panel["close"].unstack(1)
    r = np.log(close / close.shift(1))
    for market in ("ew", "btc"):
        if market != "ew":
            out = compute_features(panel, ["market_beta"], params={"market_beta": {"window": 50, "market": market}},
                                   executor=EXEC)
        m = r.mean(axis=1) if market == "ew" else r["BTCUSDT"]
        tag = market.lower()
        for t in (60, 200, 299):
            for symbol in ("AAAUSDT", "BBBUSDT"):
                y, x = r[symbol].to_numpy()[t - 49:t + 1], m.to_numpy()[t - 49:t + 1]
                slope, intercept = np.polyfit(x, y, 1)
                resid = y - (slope * x + intercept)
                row = out.xs(symbol, level=1).iloc[t]
                assert row[f"beta_{tag}_50"] == pytest.approx(slope, rel=1e-8)
                assert row[f"mkt_corr_{tag}_50"] == pytest.approx(np.corrcoef(x, y)[0, 1], rel=1e-8)
                assert row[f"idio_vol_{tag}_50"] == pytest.approx(math.sqrt(resid @ resid / 48), rel=1e-7)
    factor = get_plugins().factors.get("market_beta")  # the protocol's DataFrame route names symbols too
    direct = factor.compute(panel, factor.Params(window=50, market="btc"))
    np.testing.assert_allclose(direct.to_numpy(), out[direct.columns].to_numpy(), rtol=1e-12, equal_nan=True)
    btc = out.xs("BTCUSDT", level=1).iloc[100:]
    assert np.allclose(btc["beta_btc_50"], 1.0) and np.allclose(btc["idio_vol_btc_50"], 0.0, atol=1e-9)
    named = compute_features(panel, ["market_beta"], params={"market_beta": {"window": 50, "market": "BTCUSDT"}},
                             executor=EXEC)
    np.testing.assert_array_equal(named.to_numpy(), out.to_numpy())  # "btc" is the panel's BTCUSDT
    assert out.xs("AAAUSDT", level=1).iloc[:50].isna().all().all()


def test_market_symbol_missing_from_the_panel_is_named() -> None:
    panel = synthetic_panel(["ETHUSDT", "SOLUSDT"], 80, seed=1)
    with pytest.raises(DataError, match=r"BTCUSDT.*not in the panel") as info:
        compute_features(panel, ["market_beta"], params={"market_beta": {"market": "BTCUSDT"}}, executor=EXEC)
    assert "ETHUSDT" in (info.value.hint or "")


# -- feature sets -----------------------------------------------------------------------------------------
def test_default_set_has_the_cheap_factors_and_perp_adds_funding_and_basis() -> None:
    default = UnifiedFeatureCalculator()
    perp = UnifiedFeatureCalculator("perp")
    perp_only = {"funding_rate", "funding_mean_24", "funding_mean_168", "funding_z_168", "basis", "basis_z_168"}
    for col in ("bb_pctb_20", "stochrsi_k_14_14", "mom_skip_168_24", "hurst_168", "vpin_50", "season_hod_24_28",
                "beta_ew_168", "idio_vol_ew_168"):
        assert col in default.columns
    assert not perp_only & set(default.columns)
    assert set(perp.columns) == set(default.columns) | perp_only and perp.id == "perp"


def test_perp_columns_match_their_references() -> None:
    panel = with_perp_inputs(synthetic_panel(4, 400, seed=6), seed=6)
    calc = UnifiedFeatureCalculator("perp", select=["perpetual"], executor=EXEC)
    ours = calc.compute(panel)
    ref = reference_features(panel, [(r.name, {**r.params.model_dump(), "_lookback": r.lookback})
                                     for r in calc.factors])
    assert sorted(ref.columns) == sorted(ours.columns)
    for col in ref.columns:
        np.testing.assert_allclose(ours[col], ref[col], rtol=1e-9, atol=1e-12, err_msg=col)
    assert ours.notna().to_numpy().mean() > 0.5


def test_in_memory_panel_without_funding_says_where_it_comes_from() -> None:
    with pytest.raises(DataError, match="funding_last") as info:
        compute_features(synthetic_panel(2, 50, seed=1), ["funding_rate"], feature_set="perp", executor=EXEC)
    assert "funding tree" in (info.value.hint or "")


# -- the lake route: funding tree and spot bars -----------------------------------------------------------
def _write_bars(lake: Lake, market: str, symbol: str, bars: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(bars.reset_index(), schema=BARS_SCHEMA, preserve_index=False)
    lake.write_partition(lake.bars_dir("time-1h", "binance", market, symbol) / "date=2024-01", table,
                         Provenance(source="test", rows=table.num_rows))


def _write_funding(lake: Lake, symbol: str, times: list[str], rates: list[float]) -> None:
    table = pa.table({"calc_time": pa.array(pd.to_datetime(times, utc=True), type=FUNDING_SCHEMA.field(0).type),
                      "funding_interval_hours": pa.array([8] * len(times), type=pa.int64()),
                      "funding_rate": pa.array(rates, type=pa.float64())}, schema=FUNDING_SCHEMA)
    lake.write_partition(lake.funding_dir("binance", "um", symbol, date(2024, 1, 1)), table,
                         Provenance(source="test", rows=table.num_rows))


@pytest.fixture
def perp_lake(lake_root: str) -> Lake:
    """Perpetual and spot bars and a funding tree, on a local folder and in a bucket."""
    lake = Lake(lake_root)
    perp = synthetic_bars(24 * 10, seed=1, price=40_000.0)
    _write_bars(lake, "um", "BTCUSDT", perp)
    spot = perp.copy()
    spot["close"] = perp["close"] * 0.999
    _write_bars(lake, "spot", "BTCUSDT", spot)
    # settlements a few ms after the hour, as Binance stamps them; the first one before the bars start
    _write_funding(lake, "BTCUSDT", ["2023-12-31 16:00:00.004", "2024-01-01 00:00:00.003",
                                     "2024-01-01 08:00:00.005", "2024-01-01 16:00:00.002"],
                   [0.0001, 0.0002, -0.0003, 0.0004])
    return lake


def test_funding_is_known_from_its_calc_time_and_basis_uses_the_spot_close(perp_lake: Lake) -> None:
    from cde_features.lake_io import read_features

    result = compute_to_lake(ComputeRequest(bars="time-1h", market="um", feature_set="perp",
                                            factors=["perpetual"]), lake=perp_lake)
    assert set(result.columns) == {"funding_rate", "funding_mean_24", "funding_mean_168", "funding_z_168",
                                   "basis", "basis_z_168"}
    feats = read_features(perp_lake, result.spec, "binance", "um").xs("BTCUSDT", level=1)
    rate = feats["funding_rate"]
    hour = pd.Timestamp("2024-01-01 07:00", tz="UTC")
    assert rate[hour] == 0.0002  # the 08:00:00.005 rate is settled after this bar closes (07:59:59.999)
    assert rate[hour + pd.Timedelta("1h")] == -0.0003  # ... and within the 08:00 bar
    assert rate[pd.Timestamp("2024-01-01 16:00", tz="UTC")] == 0.0004
    assert rate[pd.Timestamp("2024-01-01 23:00", tz="UTC")] == 0.0004
    # the 2024-01-02 00:00 settlement is missing from the tree: from the bar after it was due the rate
    # is unknown, not the stale 0.0004
    assert rate[pd.Timestamp("2024-01-02 00:00", tz="UTC"):].isna().all()
    assert feats["basis"].to_numpy() == pytest.approx(1 / 0.999 - 1, rel=1e-9)
    assert feats["funding_mean_24"].iloc[23] == pytest.approx((8 * 0.0002 + 8 * -0.0003 + 8 * 0.0004) / 24)


def test_perp_factors_on_spot_bars_are_refused(perp_lake: Lake) -> None:
    with pytest.raises(DataError, match=r"perpetual-futures data.*market=spot") as info:
        compute_to_lake(ComputeRequest(bars="time-1h", market="spot", feature_set="perp"), lake=perp_lake)
    assert "--set default" in (info.value.hint or "")


def test_missing_funding_tree_and_spot_bars_are_named(lake_root: str) -> None:
    lake = Lake(lake_root)
    _write_bars(lake, "um", "ETHUSDT", synthetic_bars(48, seed=2))
    with pytest.raises(NotFoundError, match="no funding tree") as info:
        compute_to_lake(ComputeRequest(bars="time-1h", market="um", feature_set="perp", factors=["funding_rate"]),
                        lake=lake)
    assert "cde download --kind fundingRate" in (info.value.hint or "")
    _write_funding(lake, "BTCUSDT", ["2024-01-01 00:00:00"], [0.0001])
    with pytest.raises(NotFoundError, match="no funding rates for ETHUSDT"):
        compute_to_lake(ComputeRequest(bars="time-1h", market="um", feature_set="perp", factors=["funding_rate"]),
                        lake=lake)
    with pytest.raises(NotFoundError, match="no spot bars for ETHUSDT"):
        compute_to_lake(ComputeRequest(bars="time-1h", market="um", feature_set="perp", factors=["basis"]),
                        lake=lake)


def test_spot_bars_without_a_common_clock_are_refused(tmp_path: Path) -> None:
    lake = Lake(tmp_path / "lake")
    perp = synthetic_bars(48, seed=2)
    _write_bars(lake, "um", "BTCUSDT", perp)
    spot = perp.copy()
    spot.index = spot.index + pd.Timedelta("17min")  # e.g. dollar bars: labelled by their first trade
    spot["ts_close"] = spot["ts_close"] + pd.Timedelta("17min")
    _write_bars(lake, "spot", "BTCUSDT", spot)
    with pytest.raises(DataError, match="share no bar clock"):
        compute_to_lake(ComputeRequest(bars="time-1h", market="um", feature_set="perp", factors=["basis"]),
                        lake=lake)


def test_coin_margined_perpetual_maps_to_the_usdt_spot_pair() -> None:
    from cde_features.perp_inputs import spot_symbol

    assert spot_symbol("BTCUSD_PERP", "cm") == "BTCUSDT"
    assert spot_symbol("ETHUSDT", "um") == "ETHUSDT"
