"""Time bars are computed on their grid (a missing bar is a NaN input, never a shortcut across the gap)
and bars are checked before any factor sees them."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from cde_core.errors import DataError
from cde_core.local_executor import LocalExecutor, LocalExecutorParams
from cde_core.schemas import BAR_INTERVAL_ATTR, mark_bar_interval
from cde_features.calculator import UnifiedFeatureCalculator, compute_features
from cde_features.factor_base import SymbolArrays
from cde_features.synthetic import synthetic_panel

N_BARS = 900
GAP = slice(400, 472)  # three days of 1 h bars missing for one symbol


def one() -> LocalExecutor:
    return LocalExecutor(LocalExecutorParams(max_workers=1))


@pytest.fixture(scope="module")
def panels() -> tuple[pd.DataFrame, pd.DataFrame]:
    full = synthetic_panel(3, N_BARS, seed=21)
    times = full.index.get_level_values(0).unique()
    gone = full.index.get_level_values(0).isin(times[GAP]) & (full.index.get_level_values(1) == "SYM001USDT")
    return full, full[~gone]


def test_a_one_bar_return_after_a_gap_is_not_a_three_day_return(panels) -> None:
    full, gapped = panels
    out = compute_features(gapped, ["ret_log"], params={"ret_log": {"window": 1}}, executor=one(),
                           bar_interval="1h")
    after = full.index.get_level_values(0).unique()[GAP.stop]
    assert np.isnan(out.loc[(after, "SYM001USDT"), "ret_log_1"])
    assert not np.isnan(out.loc[(after, "SYM000USDT"), "ret_log_1"])
    # the shortcut, what it used to be: ln(C after the gap / C before it)
    shortcut = compute_features(gapped, ["ret_log"], params={"ret_log": {"window": 1}}, executor=one())
    assert not np.isnan(shortcut.loc[(after, "SYM001USDT"), "ret_log_1"])


def test_readers_mark_time_bar_panels_with_their_interval(panels) -> None:
    _full, gapped = panels
    marked = mark_bar_interval(gapped.copy())
    assert marked.attrs[BAR_INTERVAL_ATTR] == pd.Timedelta("1h")
    by_attrs = compute_features(marked, ["ret_log"], params={"ret_log": {"window": 1}}, executor=one())
    explicit = compute_features(gapped, ["ret_log"], params={"ret_log": {"window": 1}}, executor=one(),
                                bar_interval="1h")
    pd.testing.assert_frame_equal(by_attrs, explicit)


@pytest.fixture(scope="module")
def gap_run(panels):
    _full, gapped = panels
    calc = UnifiedFeatureCalculator("default", executor=one())
    return calc, calc.compute(gapped, bar_interval="1h")


def _series_factor_names() -> list[str]:
    calc = UnifiedFeatureCalculator("default")
    return sorted({r.name for r in calc.factors if not r.cross_sectional})


@pytest.mark.parametrize("name", _series_factor_names())
def test_every_series_factor_sees_a_missing_bar_as_a_nan_input(name: str, panels, gap_run) -> None:
    """Oracle: the factor's own arrays interface on the symbol's full series with the missing bars'
    inputs set to NaN, at the bars that exist."""
    full, _gapped = panels
    calc, out = gap_run
    symbol = full.xs("SYM001USDT", level=1)
    times = symbol.index
    present = ~times.isin(times[GAP])
    for r in (r for r in calc.factors if r.name == name):
        data = {c: symbol[c].to_numpy(dtype=np.float64).copy() for c in r.factor.inputs}
        for values in data.values():
            values[GAP] = np.nan
        with np.errstate(all="ignore"):
            if hasattr(r.factor, "compute_arrays"):
                want = r.factor.compute_arrays(SymbolArrays(data), r.params)
            else:  # a third-party factor: the protocol's DataFrame interface
                result = r.factor.compute(pd.DataFrame(data, index=times), r.params)
                want = [result[c].to_numpy(dtype=np.float64) for c in r.columns]
        for c, w in zip(r.columns, want, strict=True):
            w = np.where(np.isfinite(w), w, np.nan)[present]
            w[:r.lookback] = np.nan
            got = out.xs("SYM001USDT", level=1)[c].to_numpy()
            np.testing.assert_allclose(got, w, rtol=1e-12, atol=0, equal_nan=True, err_msg=c)


def test_a_bar_off_the_grid_is_an_error(panels) -> None:
    _full, gapped = panels
    shifted = gapped.rename(index={gapped.index[5][0]: gapped.index[5][0] + pd.Timedelta("1min")}, level=0)
    with pytest.raises(DataError, match="not on the 0 days 01:00:00 grid"):
        compute_features(shifted, ["ret_log"], executor=one(), bar_interval="1h")


def test_threshold_bars_have_no_grid() -> None:
    """Without an interval (threshold bars) the next bar is the next bar, however long it took."""
    panel = synthetic_panel(2, 50, seed=2)
    irregular = panel.drop(index=panel.index.get_level_values(0).unique()[10:20], level=0)
    out = compute_features(irregular, ["ret_log"], params={"ret_log": {"window": 1}}, executor=one())
    assert out["ret_log_1"].iloc[2:].notna().all()


@pytest.mark.parametrize(("column", "value", "words"), [
    ("close", np.nan, "close is not a finite price"), ("close", -1.0, "close is not a finite price"),
    ("high", 1e-9, "high < low"), ("open", 1e9, "open outside \\[low, high\\]"),
    ("volume", -5.0, "volume is not finite and >= 0"), ("buy_volume", np.inf, "buy_volume is not finite"),
])
def test_bad_bars_are_refused_naming_symbol_and_bar(column: str, value: float, words: str) -> None:
    panel = synthetic_panel(3, 40, seed=4)
    bad = panel.index[47]
    panel.loc[bad, column] = value
    with pytest.raises(DataError, match=words) as caught:
        compute_features(panel, ["ret_log", "rsi"], executor=one())
    assert str(bad[1]) in str(caught.value) and str(bad[0]) in str(caught.value)


def _alpha_names() -> list[str]:
    calc = UnifiedFeatureCalculator("default")
    return sorted(r.name for r in calc.factors if r.cross_sectional and r.name.startswith("alpha_"))


@pytest.fixture(scope="module")
def common_gap() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every symbol misses the same bars (an exchange outage): no timestamp of the panel shows it."""
    full = synthetic_panel(4, 300, seed=31)
    times = full.index.get_level_values(0).unique()
    return full, full[~full.index.get_level_values(0).isin(times[100:124])]


@pytest.mark.parametrize("name", _alpha_names())
def test_cross_sectional_factors_see_a_common_gap_as_nan_rows(name: str, common_gap) -> None:
    """Oracle: the factor's DataFrame interface on the full grid with the missing bars' inputs NaN."""
    full, gapped = common_gap
    out = compute_features(gapped, [name], executor=one(), bar_interval="1h")
    calc = UnifiedFeatureCalculator("default", select=[name])
    r = calc.factors[0]
    holes = full.copy()
    holes.loc[~full.index.isin(gapped.index), list(full.columns)] = np.nan
    with np.errstate(all="ignore"):
        want = r.factor.compute(holes, r.params)[list(r.columns)].reindex(gapped.index)
    want = want.where(np.isfinite(want))
    warm = gapped.groupby(level=1).cumcount().to_numpy() < r.lookback
    want[warm] = np.nan
    pd.testing.assert_frame_equal(out, want, check_exact=False, rtol=1e-9, atol=0)


def test_a_panel_in_any_time_zone_gives_the_features_of_its_utc_instants() -> None:
    """Zone-less timestamps are UTC (as ``build_bars`` and the importers take them), other zones are
    converted: same instants, same values (a zone-less panel used to fail deep inside with pandas'
    "Cannot convert tz-naive timestamps"), on the bar grid too."""
    panel = synthetic_panel(3, 60, seed=2)
    panel.attrs[BAR_INTERVAL_ATTR] = pd.Timedelta("1h")
    factors = ["returns", "rsi", "alpha_001"]
    expected = compute_features(panel, factors)
    for zone in (None, "Asia/Tokyo"):
        times = panel.index.levels[0].tz_convert(zone) if zone else panel.index.levels[0].tz_localize(None)
        zoned = panel.set_axis(panel.index.set_levels(times, level=0))
        got = compute_features(zoned, factors)
        assert got.index.equals(expected.index), zone
        pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_a_panel_that_is_not_a_pandas_bars_panel_is_one_error_saying_how_to_fix_it() -> None:
    polars = pytest.importorskip("polars")
    panel = synthetic_panel(2, 30, seed=1)
    with pytest.raises(DataError, match=re.escape("is a polars.DataFrame, not a pandas DataFrame")):
        compute_features(polars.from_pandas(panel.reset_index()), ["returns"])
    with pytest.raises(DataError, match="swaplevel"):
        compute_features(panel.swaplevel().sort_index(), ["returns"])
    with pytest.raises(DataError, match="not the bar timestamps"):
        compute_features(panel.set_axis(panel.index.set_levels(
            panel.index.levels[0].asi8 // 10**6, level=0)), ["returns"])
