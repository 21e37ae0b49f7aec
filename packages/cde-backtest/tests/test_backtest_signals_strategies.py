"""Signals and strategies on small hand-checked panels; strategies never look ahead; the plugin
registers everything and stays cheap to import."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from cde_backtest.cross_section import quantile_weights, rank_scores, top_bottom_weights, zscores
from cde_backtest.signals.ensemble import EnsembleSignal, EnsembleSignalParams
from cde_backtest.signals.factor import FactorSignal, FactorSignalParams
from cde_backtest.signals.rule import RuleSignal, RuleSignalParams
from cde_backtest.strategies.momentum_ls import MomentumLS, MomentumLSParams
from cde_backtest.strategies.trend_following import TrendFollowing, TrendFollowingParams
from cde_backtest.strategies.universe import top_n_by_trailing_volume
from cde_core.errors import ConfigError


def _panel(values: dict[str, list[float]], column: str = "x") -> pd.DataFrame:
    ts = pd.date_range("2024-01-01", periods=len(next(iter(values.values()))), freq="h", tz="UTC")
    frames = [pd.DataFrame({"ts": ts, "symbol": s, column: v}) for s, v in values.items()]
    return pd.concat(frames).set_index(["ts", "symbol"]).sort_index()


def test_backtest_cross_section_transforms_by_hand():
    x = np.array([[3.0, 1.0, np.nan, 2.0, 5.0]])
    np.testing.assert_allclose(rank_scores(x), [[1 / 3, -1.0, np.nan, -1 / 3, 1.0]])
    mean, std = 2.75, np.std([3, 1, 2, 5])
    np.testing.assert_allclose(zscores(x), [[(3 - mean) / std, (1 - mean) / std, np.nan, (2 - mean) / std,
                                             (5 - mean) / std]])
    np.testing.assert_allclose(top_bottom_weights(x, 1, 2), [[0.0, -0.25, 0.0, -0.25, 0.5]])
    np.testing.assert_allclose(top_bottom_weights(x, 3, 2), [[0.0] * 5])  # too few valid values
    np.testing.assert_allclose(quantile_weights(x, 2), [[0.25, -0.25, 0.0, -0.25, 0.25]])


def test_backtest_factor_signal_methods():
    panel = _panel({"A": [1.0, 4.0], "B": [2.0, 3.0], "C": [3.0, np.nan]})
    sig = FactorSignal()
    ranks = sig.generate(panel, FactorSignalParams(column="x"))
    assert ranks.loc[(panel.index[0][0], "C")] == 1.0 and ranks.loc[(panel.index[0][0], "A")] == -1.0
    flipped = sig.generate(panel, FactorSignalParams(column="x", method="top_bottom", n_long=1, n_short=1,
                                                     direction=-1))
    first = flipped.xs(panel.index[0][0], level="ts")
    assert first.to_dict() == {"A": 0.5, "B": 0.0, "C": -0.5}
    last = flipped.xs(panel.index[-1][0], level="ts")  # C has no value: B (3) is the lowest → long
    assert last.to_dict() == {"A": -0.5, "B": 0.5, "C": 0.0}


def test_backtest_rule_signal_thresholds_crossovers_and_hold():
    panel = _panel({"A": [10, 40, 25, 35, 50], "B": [60, 20, 20, 20, 20]}, column="rsi_14")
    panel["sma_fast"] = [1, 5, 2, 2, 3, 1, 4, 1, 5, 1]  # interleaved (ts, symbol) order: A, B, A, B …
    panel["sma_slow"] = 2.0
    rule = RuleSignal()
    out = rule.generate(panel, RuleSignalParams(long_when=["rsi_14 < 30"], short_when=["rsi_14 > 50"]))
    assert out.xs("A", level="symbol").tolist() == [1, 0, 1, 0, 0]
    assert out.xs("B", level="symbol").tolist() == [-1, 1, 1, 1, 1]
    cross = rule.generate(panel, RuleSignalParams(long_when=["sma_fast crosses_above sma_slow"]))
    # A's sma_fast: 1, 2, 3, 4, 5 → crosses above 2 at the third bar only; B: 5, 2, 1, 1, 1 → never
    assert cross.xs("A", level="symbol").tolist() == [0, 0, 1, 0, 0]
    assert cross.xs("B", level="symbol").tolist() == [0, 0, 0, 0, 0]
    held = rule.generate(panel, RuleSignalParams(long_when=["sma_fast crosses_above sma_slow"],
                                                 exit_when=["rsi_14 >= 50"], hold=True))
    assert held.xs("A", level="symbol").tolist() == [0, 0, 1, 1, 0]
    with pytest.raises(ConfigError, match="cannot parse"):
        RuleSignalParams(long_when=["rsi_14 <<< 30"])


def test_backtest_ensemble_mean_and_vote():
    panel = _panel({"A": [1.0], "B": [2.0], "C": [3.0]})
    panel["y"] = [3.0, 2.0, 1.0]
    params = EnsembleSignalParams(components=[
        {"signal": "factor", "params": {"column": "x"}, "weight": 3.0},
        {"signal": "factor", "params": {"column": "y"}, "weight": 1.0}], method="mean")
    out = EnsembleSignal().generate(panel, params)
    np.testing.assert_allclose(out.to_numpy(), [(-3 + 1) / 4, 0.0, (3 - 1) / 4])
    vote = EnsembleSignal().generate(panel, params.model_copy(update={"method": "vote"}))
    np.testing.assert_allclose(vote.to_numpy(), [-1.0, 0.0, 1.0])


def test_backtest_top_n_universe_is_point_in_time():
    qv = np.array([[1.0, 5.0, 3.0], [10.0, 0.0, 0.0], [0.0, 0.0, 10.0]])
    mask = top_n_by_trailing_volume(qv, window=2, n=1)
    # trailing sums: [1,5,3], [11,5,3], [10,0,10] (tie → later column wins the higher rank)
    assert mask.tolist() == [[False, True, False], [True, False, False], [False, False, True]]


def test_backtest_momentum_ls_weights_and_no_look_ahead(panel_factory):
    panel = panel_factory(n_bars=24 * 20, n_symbols=8, seed=31, late_listing=True)
    params = MomentumLSParams(lookback=48, n_long=2, n_short=2, universe_size=6, volume_window=24)
    weights = MomentumLS().target_weights(panel, params)
    by_ts = weights.groupby(level="ts")
    active = by_ts.apply(lambda w: (w != 0).sum())
    assert set(active.unique()) <= {0, 4} and (active == 4).any()
    assert np.allclose(by_ts.sum()[active == 4], 0.0) and np.allclose(by_ts.apply(lambda w: w.abs().sum())[
        active == 4], 1.0)
    # the long legs are the two best 48-bar returns among the six most liquid
    close = panel["close"].unstack()
    t = close.index[300]
    ret = np.log(close.loc[t] / close.shift(48).loc[t])
    liquid = panel["quote_volume"].unstack().fillna(0).rolling(24, min_periods=1).sum().loc[t].nlargest(6).index
    expected_long = set(ret[liquid].nlargest(2).index)
    assert set(weights.xs(t, level="ts")[lambda w: w > 0].index) == expected_long
    # shifting future prices never changes past weights
    shocked = panel.copy()
    later = shocked.index.get_level_values("ts") > t
    shocked.loc[later, ["close", "quote_volume"]] *= 3.0
    again = MomentumLS().target_weights(shocked, params)
    pd.testing.assert_series_equal(again.loc[:t], weights.loc[:t])


def test_backtest_trend_following_signal(panel_factory):
    panel = panel_factory(n_bars=300, n_symbols=3, seed=41)
    sig = TrendFollowing().target_weights(panel, TrendFollowingParams(fast=5, slow=20, long_only=True))
    assert set(np.unique(sig.dropna())) <= {0.0, 1.0}
    assert sig.xs(panel.index.get_level_values("symbol")[0], level="symbol").iloc[:19].isna().all()


def test_backtest_plugin_registers_and_imports_cheaply():
    code = ("import sys, cde_backtest.plugin as p\n"
            "from cde_core.plugins import PluginHost\n"
            "h = PluginHost(load_entry_points=False); h.register(p, name='backtest')\n"
            "print(sorted(h.strategies.names()), sorted(h.signals.names()), sorted(h.engines.names()))\n"
            "print('numba' in sys.modules, 'plotly' in sys.modules, 'fastapi' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    names, heavy = out.strip().splitlines()
    assert "'momentum_ls'" in names and "'trend_following'" in names and "'cross_sectional'" in names
    assert "'rule'" in names and "'ensemble'" in names
    assert heavy == "False False False"


def test_backtest_example_plugin_strategy_runs(panel_factory):
    pytest.importorskip("cde_example_plugin")
    from cde_backtest.engines.cross_sectional import CrossSectionalEngine, CrossSectionalParams
    from cde_example_plugin.low_range_strategy import LowRangeStrategy
    from cde_example_plugin.range_factor import RangePositionFactor

    panel = panel_factory(n_bars=24 * 15, n_symbols=6, seed=51)
    factor = RangePositionFactor()
    feats = panel.groupby(level="symbol", group_keys=False).apply(
        lambda b: factor.compute(b, factor.Params()))
    strategy = LowRangeStrategy()
    weights = strategy.target_weights(panel.join(feats), strategy.Params())
    result = CrossSectionalEngine().run(panel, weights, CrossSectionalParams())
    assert result.metrics.n_trades > 0


def _slow_average_ranks(row: list[float]) -> list[float]:
    """0-based ranks of the valid values, ties at the mean of the ranks they span (NaN stays NaN)."""
    valid = sorted(v for v in row if v == v)
    out = []
    for v in row:
        if v != v:
            out.append(float("nan"))
            continue
        below, equal = sum(1 for u in valid if u < v), sum(1 for u in valid if u == v)
        out.append(below + (equal - 1) / 2)
    return out


def test_backtest_equal_factor_values_get_equal_scores_and_buckets():
    """A factor that does not tell symbols apart must not size them apart by name: a constant row
    scores 0 and is flat in quantile buckets (it ranked the alphabet from −1 to +1 and went long the
    last names, short the first); partial ties share the average rank, against a slow reference."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 4, size=(200, 7)).astype(float)
    x[rng.random(x.shape) < 0.15] = np.nan
    x[0] = 2.0
    scores, buckets = rank_scores(x), quantile_weights(x, 3)
    assert np.all(scores[0] == 0.0) and np.all(buckets[0] == 0.0)
    for row, got, weights in zip(x, scores, buckets, strict=True):
        ranks = _slow_average_ranks(row.tolist())
        n = sum(1 for v in row if v == v)
        expected = [np.nan if r != r else (2 * r / max(n - 1, 1) - 1 if n > 1 else 0.0) for r in ranks]
        np.testing.assert_allclose(got, expected)
        bucket = [None if r != r else int(np.floor(r * 3 / n)) for r in ranks]
        for a in range(len(row)):
            for b in range(len(row)):
                if row[a] == row[b]:  # equal values, equal weights
                    assert weights[a] == weights[b]
        if n >= 3:
            top = [k for k, q in enumerate(bucket) if q == 2]
            assert all(weights[k] > 0 for k in top) and sum(weights[k] for k in top) == pytest.approx(
                0.5 if top else 0.0)
