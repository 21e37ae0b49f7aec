"""Perpetual-futures factors: the funding rate and the perpetual–spot basis.

They read two columns that are not part of the bars schema; on the lake route
(`cde features compute --set perp`) :mod:`cde_features.perp_inputs` adds them from the lake:

* ``funding_last`` — the latest funding rate *settled* at or before the bar's close (a rate is known
  at its ``calc_time``, never earlier), from the lake's funding tree;
* ``spot_close`` — the close of the spot bar of the perpetual's underlying, same bars spec.

They are not in the ``default`` set: spot-only data has neither column, and the lake route says so
instead of returning NaN.
"""

from __future__ import annotations

import numpy as np

from cde_features.factor_base import Arrays, BarFactor, WindowFactor, shared, window_params


def _zscore(x: np.ndarray, window: int) -> np.ndarray:
    """``(x − mean_n) / std_n`` (sample std, ddof 1); NaN when x was constant over the window."""
    from cde_features.kernels.rolling import rolling_mean, rolling_std

    x = np.ascontiguousarray(x, dtype=np.float64)
    std = rolling_std(x, window, 1)
    return (x - rolling_mean(x, window)) / np.where(std > 0, std, np.nan)


def _basis(data: Arrays) -> np.ndarray:
    return shared(data, "basis", lambda: data["close"] / data["spot_close"] - 1.0)


class FundingRate(BarFactor):
    """The latest settled funding rate (per funding interval, e.g. 0.0001 = 1 bp per 8 h): longs pay
    shorts this fraction of their notional at each settlement. NaN before the first settlement."""

    name = "funding_rate"
    group = "perpetual"
    summary = "latest settled funding rate known at the bar's close"
    inputs = ("funding_last",)

    def calc(self, data: Arrays) -> np.ndarray:
        return np.array(data["funding_last"], dtype=np.float64)


class FundingMean(WindowFactor):
    """Mean of the known funding rate over the last n bars (time-weighted: each bar counts the rate
    in force at its close), e.g. 168 1 h bars = the 7-day average funding."""

    name = "funding_mean"
    group = "perpetual"
    summary = "rolling mean of the known funding rate over `window` bars"
    inputs = ("funding_last",)
    Params = window_params(168, minimum=1)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_mean

        return rolling_mean(np.ascontiguousarray(data["funding_last"], dtype=np.float64), window)


class FundingZScore(WindowFactor):
    """Z-score of the known funding rate against its last n bars: how crowded the long (positive) or
    short (negative) side is relative to its recent norm. NaN while funding was constant."""

    name = "funding_z"
    group = "perpetual"
    summary = "z-score of the known funding rate over `window` bars"
    inputs = ("funding_last",)
    Params = window_params(168)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        return _zscore(data["funding_last"], window)


class Basis(BarFactor):
    """Perpetual–spot basis ``C_perp / C_spot − 1`` at the bar's close (positive: the perpetual trades
    at a premium, usually with positive funding)."""

    name = "basis"
    group = "perpetual"
    summary = "perpetual close / spot close - 1"
    inputs = ("close", "spot_close")

    def calc(self, data: Arrays) -> np.ndarray:
        return np.array(_basis(data), dtype=np.float64)


class BasisZScore(WindowFactor):
    """Z-score of the perpetual–spot basis against its last n bars."""

    name = "basis_z"
    group = "perpetual"
    summary = "z-score of the perpetual-spot basis over `window` bars"
    inputs = ("close", "spot_close")
    Params = window_params(168)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        return _zscore(_basis(data), window)


#: the factors of this module, as registered by cde_features.catalog
FACTORS: tuple[type, ...] = (FundingRate, FundingMean, FundingZScore, Basis, BasisZScore)
