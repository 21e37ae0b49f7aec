"""The bars and weights a user hands the engines (notebooks, ``run_on_panel``, ``engine.run``): a bad bar
is one error naming symbol and bar, never a plausible NAV; timestamps in any zone (or none, = UTC)
give the same run; weights that cannot be traded are an error, never a silently flat run."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from cde_backtest.engines.cross_sectional import CrossSectionalEngine, CrossSectionalParams
from cde_backtest.engines.time_series import TimeSeriesEngine, TimeSeriesParams
from cde_core.errors import DataError

ENGINES = {"cross_sectional": (CrossSectionalEngine, CrossSectionalParams),
           "time_series": (TimeSeriesEngine, TimeSeriesParams)}


def _run(engine: str, panel: pd.DataFrame, weights: pd.Series):
    cls, params = ENGINES[engine]
    return cls().run(panel, weights, params.model_validate({"rebalance": {"every": "day"}}))


@pytest.fixture(scope="module")
def panel(panel_factory) -> pd.DataFrame:
    return panel_factory(24 * 8, 3, seed=5, late_listing=False, funding=False)


def _weights(panel: pd.DataFrame) -> pd.Series:
    signs = np.where(panel.index.get_level_values("symbol") == "S01USDT", -1.0, 1.0)
    return pd.Series(signs / 3, index=panel.index)


BAD_BARS = {
    "zero close": ("close", 0.0, "close is not a finite price > 0"),
    "negative open": ("open", -3.0, "open is not a finite price > 0"),
    "infinite close": ("close", np.inf, "close is not a finite price > 0"),
    "NaN close": ("close", np.nan, "close is not a finite price > 0"),
    "high below low": ("high", 1e-3, "high < low"),
    "close above high": ("close", 1e6, "close outside [low, high]"),
    "negative volume": ("quote_volume", -1.0, "quote_volume is not finite and >= 0"),
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("bad", BAD_BARS)
def test_a_bad_bar_is_an_error_naming_symbol_and_bar(panel, engine, bad):
    """A zero close used to be marked as a −100 % move of the held position (a drawdown the strategy
    never had), an infinite one made the NAV infinite, a NaN one was skipped."""
    column, value, what = BAD_BARS[bad]
    broken = panel.copy()
    at = (panel.index.levels[0][100], "S02USDT")
    broken.loc[at, column] = value
    with pytest.raises(DataError, match=re.escape(f"bar of S02USDT at 2024-01-05 04:00:00+00:00: {what}")):
        _run(engine, broken, _weights(broken))


@pytest.mark.parametrize("engine", ENGINES)
def test_a_repeated_bar_is_an_error(panel, engine):
    doubled = pd.concat([panel, panel.iloc[[7]]]).sort_index()
    with pytest.raises(DataError, match="duplicate rows for S01USDT at 2024-01-01 02:00:00"):
        _run(engine, doubled, _weights(panel))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("which", ["both", "weights only"])
def test_timestamps_in_any_zone_give_the_run_of_utc(panel, engine, which):
    """Zone-less timestamps are UTC and other zones are converted: the same instants, the same run. A
    zone-less panel with zone-less weights used to run flat (its weights matched no bar), as did UTC
    bars with zone-less weights."""
    expected = _run(engine, panel, _weights(panel))
    assert expected.metrics.n_trades > 0
    for zone in (None, "Asia/Tokyo", "America/New_York"):
        times = panel.index.levels[0].tz_convert(zone) if zone else panel.index.levels[0].tz_localize(None)
        zoned = panel.index.set_levels(times, level=0)
        bars = panel.set_axis(zoned) if which == "both" else panel
        got = _run(engine, bars, _weights(panel).set_axis(zoned))
        np.testing.assert_allclose(got.simulation.nav, expected.simulation.nav, rtol=1e-12, err_msg=str(zone))
        assert got.metrics.n_trades == expected.metrics.n_trades


@pytest.mark.parametrize("engine", ENGINES)
def test_weights_that_cannot_be_traded_are_an_error_not_a_flat_run(panel, engine):
    weights = _weights(panel)
    infinite = weights.copy()
    infinite.iloc[40] = -np.inf
    with pytest.raises(DataError, match=re.escape("weight of S01USDT at 2024-01-01 13:00:00+00:00 is -inf")):
        _run(engine, panel, infinite)
    renamed = weights.rename(lambda s: s.replace("USDT", "-USDT"), level="symbol")
    with pytest.raises(DataError, match=re.escape("no weight matches a bar: e.g. S00-USDT at 2024-01-01 00:00:00")):
        _run(engine, panel, renamed)
    empty = _run(engine, panel, pd.Series(np.nan, index=panel.index))  # no view at all: flat, by choice
    assert empty.metrics.n_trades == 0


def test_a_panel_that_is_not_a_pandas_bars_panel_is_an_error_saying_how_to_fix_it(panel):
    polars = pytest.importorskip("polars")
    with pytest.raises(DataError, match=re.escape("is a polars.DataFrame, not a pandas DataFrame")):
        _run("cross_sectional", polars.from_pandas(panel.reset_index()), _weights(panel))
    with pytest.raises(DataError, match="swaplevel"):
        _run("cross_sectional", panel.swaplevel().sort_index(), _weights(panel))
