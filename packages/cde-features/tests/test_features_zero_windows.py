"""Windows of empty bars (time bars with ``fill=true``: flat prices, zero volumes) give exact values.

Running sums used to carry rounding residue of the values that left the window, so a window of
zeros gave small garbage (a taker-buy share of 8.75, an OBV outside [-1, 1], an MFI of NaN instead of
100). The property, for every registered factor: a factor whose value at a bar depends only on the
bars of its window (found on random data) must give at the bars of an all-empty window exactly what it
gives when computed from those empty bars alone — no residue of the busy history before them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cde_core.local_executor import LocalExecutor, LocalExecutorParams
from cde_core.plugins import get_plugins
from cde_features.calculator import UnifiedFeatureCalculator
from cde_features.synthetic import synthetic_panel, with_perp_inputs

BUSY = 900      # bars of random activity, longer than the longest default lookback (672)
EMPTY = 800     # then bars without trades
SYMBOLS = 4


def with_empty_tail(panel: pd.DataFrame, first_empty: int) -> pd.DataFrame:
    """The panel with every bar from position ``first_empty`` on (per symbol) turned into what
    ``fill=true`` emits: open = high = low = close = vwap = the last close, zero volumes and trades."""
    out = panel.copy()
    times = out.index.get_level_values(0).unique()
    empty = out.index.get_level_values(0) >= times[first_empty]
    last_close = out[out.index.get_level_values(0) == times[first_empty - 1]]["close"]
    closes = last_close.droplevel(0).reindex(out.index.get_level_values(1)).to_numpy()
    for col in ("open", "high", "low", "close", "vwap"):
        out.loc[empty, col] = closes[empty]
    for col in ("volume", "quote_volume", "buy_volume", "buy_quote_volume", "n_trades"):
        out.loc[empty, col] = 0
    return out


@pytest.fixture(scope="module")
def calc() -> UnifiedFeatureCalculator:
    # the perp set (default plus the funding/basis factors) and every other registered factor
    return UnifiedFeatureCalculator("perp", select=["*"],
                                    executor=LocalExecutor(LocalExecutorParams(max_workers=2)))


def _tail(panel: pd.DataFrame, start: int) -> pd.DataFrame:
    times = panel.index.get_level_values(0).unique()
    return panel[panel.index.get_level_values(0) >= times[start]]


def warmups(calc: UnifiedFeatureCalculator) -> dict[str, int]:
    """Bars each column needs, including those of the column a cross-sectional transform reads."""
    own = {c: r.lookback for r in calc.factors for c in r.columns}
    for c in own:
        for suffix in ("_csrank", "_csz", "_csdm"):
            if c.endswith(suffix) and c.removesuffix(suffix) in own:
                own[c] += own[c.removesuffix(suffix)]
    return own


@pytest.fixture(scope="module")
def local_columns(calc: UnifiedFeatureCalculator) -> set[str]:
    """Columns whose value at a bar depends only on a window of earlier bars (on busy random data, a
    computation started ``2 · lookback + 2`` bars earlier gives the same value; recursive smoothers
    such as EMAs and Wilder's RMA do not: their seed has not decayed that soon)."""
    panel = with_perp_inputs(synthetic_panel(SYMBOLS, 1500, seed=5), seed=5)
    full = calc.compute(panel)
    start = 100
    part = calc.compute(_tail(panel, start))
    times = panel.index.get_level_values(0).unique()
    local = set()
    for c, warmup in warmups(calc).items():
        rows = full.index.get_level_values(0) >= times[start + 2 * warmup + 2]
        a, b = full.loc[rows, c].to_numpy(), part[c].reindex(full.index[rows]).to_numpy()
        # loose: add/remove running moments drift ~1e-9 on busy data; an unexpired seed is ~1e-2 off
        if np.allclose(a, b, rtol=1e-6, atol=1e-9, equal_nan=True):
            local.add(c)
    return local


@pytest.fixture(scope="module")
def empty_run(calc: UnifiedFeatureCalculator) -> tuple[pd.DataFrame, pd.DataFrame]:
    panel = with_empty_tail(with_perp_inputs(synthetic_panel(SYMBOLS, BUSY + EMPTY, seed=8), seed=8), BUSY)
    return calc.compute(panel), calc.compute(_tail(panel, BUSY))


def _factor_names() -> list[str]:
    return sorted(get_plugins().factors.names())


@pytest.mark.parametrize("name", _factor_names())
def test_windows_of_empty_bars_carry_no_residue_of_earlier_bars(name: str, calc, local_columns,
                                                                empty_run) -> None:
    full, alone = empty_run
    resolved = [r for r in calc.factors if r.name == name]
    assert resolved, f"{name} is not computed by this test"
    columns = [c for r in resolved for c in r.columns if c in local_columns]
    if not columns:
        pytest.skip(f"{name} is recursive (its value depends on all earlier bars, not on a window)")
    times = full.index.get_level_values(0).unique()
    warmup = warmups(calc)
    for c in columns:  # from the first bar whose whole window is empty
        rows = full.index.get_level_values(0) >= times[BUSY + warmup[c] + 1]
        got = full.loc[rows, c].to_numpy()
        want = alone[c].reindex(full.index[rows]).to_numpy()
        bad = ~((got == want) | (np.isnan(got) & np.isnan(want)) | np.isclose(got, want, rtol=1e-9, atol=0.0))
        assert not bad.any(), f"{c}: {got[bad][:5]} where the empty window alone gives {want[bad][:5]}"


def test_flow_ratios_of_empty_windows_are_undefined_and_mfi_is_100_after_rises() -> None:
    """Hand-checked values: no volume in the window → no taker share, no VWAP, no OBV ratio; a window
    whose typical price only rose (or stayed) has no negative flow → MFI 100."""
    from cde_features.calculator import compute_features

    panel = with_empty_tail(synthetic_panel(2, 400, seed=3), 300)
    out = compute_features(panel, ["taker_buy_ratio", "vwap_dev", "obv", "mfi", "cmf"],
                           executor=LocalExecutor(LocalExecutorParams(max_workers=1)))
    times = out.index.get_level_values(0).unique()
    late = out[out.index.get_level_values(0) >= times[300 + 30]]
    for c in ("taker_buy_ratio_24", "vwap_dev_24", "obv_24", "cmf_20"):
        assert late[c].isna().all(), c
    one = LocalExecutor(LocalExecutorParams(max_workers=1))
    bars = synthetic_panel(1, 90, seed=1)
    close = np.r_[np.linspace(160, 100, 20), np.linspace(101, 150, 40)]
    flat = [150.5]
    for _ in range(29):  # flat to 15 digits: each bar one ulp above the last
        flat.append(np.nextafter(flat[-1], np.inf))
    close = np.r_[close, flat]
    bars["close"] = bars["open"] = bars["vwap"] = close
    bars["high"], bars["low"] = close * 1.001, close * 0.999
    bars.iloc[60:, bars.columns.get_indexer(["high", "low"])] = np.c_[flat, flat]
    mfi = compute_features(bars, ["mfi"], executor=one)["mfi_14"].to_numpy()
    assert (mfi[20 + 14:60] == 100.0).all()  # windows of rises only, after a fall: no negative flow
    assert (mfi[61 + 14:] == 50.0).all()      # windows of one-ulp moves only: no flow at all
