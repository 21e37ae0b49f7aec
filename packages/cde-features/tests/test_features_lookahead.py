"""No look-ahead, proven for every registered factor (built-in and third-party): changing or deleting
all data after a random time t must leave every value at or before t unchanged. The ``perp`` set is
``default`` plus the perpetual factors, so the panel carries their lake inputs (funding, spot close)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cde_core.local_executor import LocalExecutor, LocalExecutorParams
from cde_core.plugins import get_plugins
from cde_features.calculator import UnifiedFeatureCalculator
from cde_features.synthetic import synthetic_bars, synthetic_panel, with_perp_inputs

N_BARS = 760  # longer than the longest default lookback (672) so every column has values


@pytest.fixture(scope="module")
def calc() -> UnifiedFeatureCalculator:
    # the perp set (default plus the perpetual factors) and every other registered factor (third-party
    # ones never join a built-in set)
    return UnifiedFeatureCalculator("perp", select=["*"],
                                    executor=LocalExecutor(LocalExecutorParams(max_workers=2)))


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return with_perp_inputs(synthetic_panel(5, N_BARS, seed=11), seed=11)


@pytest.fixture(scope="module")
def full(calc: UnifiedFeatureCalculator, panel: pd.DataFrame) -> pd.DataFrame:
    return calc.compute(panel)


def test_perp_set_covers_every_registered_factor(calc: UnifiedFeatureCalculator) -> None:
    computed = {r.name for r in calc.factors}
    registered = set(get_plugins().factors.names())
    assert registered <= computed, f"not exercised by the look-ahead test: {registered - computed}"
    assert "example_range_position" in computed


def _perturb_after(panel: pd.DataFrame, cut: pd.Timestamp, rng: np.random.Generator) -> pd.DataFrame:
    out = panel.copy()
    after = out.index.get_level_values(0) > cut
    for col in ("open", "high", "low", "close", "vwap", "spot_close"):
        out.loc[after, col] = out.loc[after, col] * rng.uniform(0.5, 2.0, after.sum())
    out.loc[after, "high"] = out.loc[after, ["open", "high", "low", "close", "vwap"]].max(axis=1) * 1.01
    out.loc[after, "low"] = out.loc[after, ["open", "high", "low", "close", "vwap"]].min(axis=1) * 0.99
    for col in ("volume", "quote_volume", "buy_volume", "buy_quote_volume"):
        out.loc[after, col] = out.loc[after, col] * rng.uniform(0.1, 10.0, after.sum())
    out.loc[after, "buy_volume"] = np.minimum(out.loc[after, "buy_volume"], out.loc[after, "volume"])
    out.loc[after, "funding_last"] = rng.normal(0.0, 1e-3, after.sum())
    return out


def _assert_same_until(a: pd.DataFrame, b: pd.DataFrame, cut: pd.Timestamp) -> None:
    keep_a = a[a.index.get_level_values(0) <= cut]
    keep_b = b[b.index.get_level_values(0) <= cut].reindex(keep_a.index)
    bad = [c for c in keep_a.columns
           if not np.allclose(keep_a[c].to_numpy(), keep_b[c].to_numpy(), rtol=1e-9, atol=1e-12, equal_nan=True)]
    assert not bad, f"values at or before {cut} changed for {bad}"


@pytest.mark.parametrize("seed", [1, 2])
def test_changing_the_future_changes_nothing_before(calc, panel, full, seed) -> None:
    rng = np.random.default_rng(seed)
    times = panel.index.get_level_values(0).unique()
    cut = times[rng.integers(N_BARS // 3, N_BARS - 5)]
    changed = calc.compute(_perturb_after(panel, cut, rng))
    _assert_same_until(full, changed, cut)
    after = full.index.get_level_values(0) > cut
    assert not np.allclose(full[after]["ret_log_1"], changed[after]["ret_log_1"], equal_nan=True)


@pytest.mark.parametrize("seed", [3, 4])
def test_deleting_the_future_changes_nothing_before(calc, panel, full, seed) -> None:
    rng = np.random.default_rng(seed)
    times = panel.index.get_level_values(0).unique()
    cut = times[rng.integers(N_BARS // 3, N_BARS - 5)]
    truncated = calc.compute(panel[panel.index.get_level_values(0) <= cut])
    _assert_same_until(full, truncated, cut)


def test_each_series_factor_protocol_compute_has_no_look_ahead() -> None:
    """The protocol's own ``compute`` (what a third party implements), factor by factor."""
    bars = with_perp_inputs(synthetic_bars(400, seed=5), seed=5)
    rng = np.random.default_rng(9)
    for entry in get_plugins().factors:
        factor = entry.obj
        if factor.cross_sectional:
            continue
        params = factor.Params()
        cut = int(rng.integers(100, 390))
        whole = factor.compute(bars, params)
        part = factor.compute(bars.iloc[: cut + 1], params)
        assert list(whole.columns) == factor.columns(params)
        np.testing.assert_allclose(whole.iloc[: cut + 1].to_numpy(), part.to_numpy(), rtol=1e-9, atol=1e-12,
                                   err_msg=f"{entry.name} looks ahead")


def test_warmup_rows_are_nan_and_not_dropped(calc, panel, full) -> None:
    assert full.index.equals(panel.index)
    for r in calc.factors:
        for symbol in ("SYM000USDT", "SYM003USDT"):
            values = full.xs(symbol, level=1)[list(r.columns)].to_numpy()
            assert np.isnan(values[: r.lookback]).all(), f"{r.name} has values inside its warm-up"


def test_builtin_lookbacks_are_tight() -> None:
    """Each built-in time-series factor has every column from row ``lookback`` on, and at least one
    column with no value before it (the declared warm-up is neither too short nor too long)."""
    bars = with_perp_inputs(synthetic_bars(800, seed=21), seed=21)
    for entry in get_plugins().factors:
        factor = entry.obj
        if factor.cross_sectional or entry.distribution != "cde-features":
            continue
        params = factor.Params()
        lookback = factor.lookback(params)
        out = factor.compute(bars, params).to_numpy()
        assert np.isfinite(out[lookback]).all(), f"{entry.name}: no value at lookback {lookback}"
        assert np.isnan(out[:lookback]).all(axis=0).any(), f"{entry.name}: lookback {lookback} is too long"
