"""Shape of the recent return distribution (all on 1-bar log returns, windows include the current bar)."""

from __future__ import annotations

import numpy as np

from cde_features.factor_base import Arrays, WindowFactor, shared, window_params
from cde_features.returns import log_returns_of


def _skew_kurt(data: Arrays, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling skewness and kurtosis of returns, from one pass (shared by the two factors)."""
    from cde_features.kernels.rolling import rolling_skew_kurt

    return shared(data, ("skew_kurt", window), lambda: rolling_skew_kurt(log_returns_of(data), window))


class _ReturnWindowFactor(WindowFactor):
    group = "distribution"
    inputs = ("close",)

    def warmup(self, window: int) -> int:
        return window


class ReturnSkew(_ReturnWindowFactor):
    """Bias-corrected sample skewness G1 of returns (Joanes & Gill 1998; pandas ``skew``)."""

    name = "skew"
    summary = "rolling skewness of returns"
    Params = window_params(24, minimum=3)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        return _skew_kurt(data, window)[0]


class ReturnKurtosis(_ReturnWindowFactor):
    """Bias-corrected sample excess kurtosis G2 of returns (Joanes & Gill 1998; pandas ``kurt``)."""

    name = "kurt"
    summary = "rolling excess kurtosis of returns"
    Params = window_params(24, minimum=4)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        return _skew_kurt(data, window)[1]


class MaxReturn(_ReturnWindowFactor):
    """Largest 1-bar return in the window (Bali, Cakici & Whitelaw 2011, "MAX")."""

    name = "max_ret"
    summary = "largest 1-bar return in the window"
    Params = window_params(24, minimum=1)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_max

        return rolling_max(log_returns_of(data), window)


class MinReturn(_ReturnWindowFactor):
    """Smallest 1-bar return in the window."""

    name = "min_ret"
    summary = "smallest 1-bar return in the window"
    Params = window_params(24, minimum=1)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_min

        return rolling_min(log_returns_of(data), window)


class DownsideVolatility(_ReturnWindowFactor):
    """Downside semi-deviation ``√mean(min(r, 0)²)`` (Markowitz 1959; Ang, Chen & Xing 2006)."""

    name = "downside_vol"
    summary = "downside semi-deviation of returns"
    Params = window_params(168, minimum=1)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_mean

        r = np.minimum(log_returns_of(data), 0.0)
        return np.sqrt(rolling_mean(r * r, window))


class UpsideVolatility(_ReturnWindowFactor):
    """Upside semi-deviation ``√mean(max(r, 0)²)``."""

    name = "upside_vol"
    summary = "upside semi-deviation of returns"
    Params = window_params(168, minimum=1)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_mean

        r = np.maximum(log_returns_of(data), 0.0)
        return np.sqrt(rolling_mean(r * r, window))


class ReturnZScore(_ReturnWindowFactor):
    """The latest 1-bar return divided by the return std (ddof 1) over n bars."""

    name = "ret_z"
    summary = "latest return / rolling return volatility"
    Params = window_params(168, minimum=3)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_std

        r = log_returns_of(data)
        sd = rolling_std(r, window, 1)
        return r / np.where(sd > 0, sd, np.nan)
