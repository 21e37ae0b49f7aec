"""How a plugin author tests a plugin: hand-computed values for the objects, and the installed entry
point seen by cde exactly as a user's `cde plugins` sees it."""

from __future__ import annotations

import math

import pandas as pd

from cde_core.plugins import PluginHost
from cde_core.testing import check_factor, check_strategy
from cde_example_plugin.low_range_strategy import LowRangeParams, LowRangeStrategy
from cde_example_plugin.range_factor import RangePositionFactor, RangePositionParams


def test_range_position_by_hand() -> None:
    bars = pd.DataFrame({"high": [10.0, 12.0, 11.0, 13.0], "low": [8.0, 9.0, 7.0, 10.0],
                         "close": [9.0, 11.0, 8.0, 12.0]})
    factor = RangePositionFactor()
    params = RangePositionParams(window=3)
    out = factor.compute(bars, params)[factor.columns(params)[0]]
    assert math.isnan(out.iloc[0]) and math.isnan(out.iloc[1])  # warm-up = lookback rows
    assert factor.lookback(params) == 2
    assert out.iloc[2] == (8.0 - 7.0) / (12.0 - 7.0)  # window rows 0..2: low 7, high 12
    assert out.iloc[3] == (12.0 - 7.0) / (13.0 - 7.0)  # window rows 1..3: low 7, high 13


def test_low_range_strategy_longs_the_lowest_and_shorts_the_highest() -> None:
    index = pd.MultiIndex.from_product([[pd.Timestamp("2024-01-01", tz="UTC")], ["A", "B", "C", "D"]],
                                       names=["ts", "symbol"])
    panel = pd.DataFrame({"example_range_position_24": [0.1, 0.9, 0.5, 0.2]}, index=index)
    weights = LowRangeStrategy().target_weights(panel, LowRangeParams(n=1))
    assert weights.xs("A", level="symbol").iloc[0] == 0.5
    assert weights.xs("B", level="symbol").iloc[0] == -0.5
    assert weights.sum() == 0.0 and (weights.abs() > 0).sum() == 2


def test_the_installed_entry_point_registers_both_objects() -> None:
    host = PluginHost()
    assert host.factors.entry("example_range_position").distribution == "cde-example-plugin"
    assert host.strategies.entry("example_low_range").obj.engine == "cross_sectional"
    assert next(p for p in host.plugins() if p.name == "example").status == "ok"


def test_the_factor_keeps_the_factor_contract() -> None:
    """Protocol, declared columns, determinism and no look-ahead, on synthetic bars (cde's kit)."""
    out = check_factor(RangePositionFactor(), {"window": 12})
    assert list(out.columns) == ["example_range_position_12"]
    assert out.dropna().iloc[:, 0].between(0.0, 1.0).all()


def test_the_strategy_keeps_the_strategy_contract() -> None:
    weights = check_strategy(LowRangeStrategy(), {"n": 2}, columns=["example_range_position_24"])
    by_time = weights.groupby(level="ts")
    assert (by_time.sum().abs() < 1e-12).all()  # dollar neutral at every bar
    assert set(by_time.apply(lambda w: int((w != 0).sum()))) == {4}  # 2 long + 2 short of 6 symbols
