"""Returns over several horizons (Campbell, Lo & MacKinlay 1997, *The Econometrics of Financial
Markets*, §1.4: simple return ``R_t(h) = P_t / P_{t−h} − 1``, log return ``r_t(h) = ln(P_t / P_{t−h})``)."""

from __future__ import annotations

import numpy as np

from cde_features.factor_base import Arrays, WindowFactor, shared, window_params


def _lagged(x: np.ndarray, k: int) -> np.ndarray:
    out = np.full(x.shape[0], np.nan)
    if k < x.shape[0]:
        out[k:] = x[:-k] if k else x
    return out


class SimpleReturn(WindowFactor):
    """``close_t / close_{t−h} − 1`` (Campbell, Lo & MacKinlay 1997, eq. 1.4.1)."""

    name = "ret_simple"
    group = "returns"
    summary = "simple return over the last `window` bars"
    inputs = ("close",)
    Params = window_params(24, "horizon in bars", minimum=1)

    def warmup(self, window: int) -> int:
        return window

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        close = data["close"]
        return close / _lagged(close, window) - 1.0


class LogReturn(WindowFactor):
    """``ln(close_t / close_{t−h})`` (Campbell, Lo & MacKinlay 1997, eq. 1.4.6)."""

    name = "ret_log"
    group = "returns"
    summary = "log return over the last `window` bars"
    inputs = ("close",)
    Params = window_params(24, "horizon in bars", minimum=1)

    def warmup(self, window: int) -> int:
        return window

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        close = data["close"]
        return np.log(close / _lagged(close, window))


def log_returns(close: np.ndarray) -> np.ndarray:
    """One-bar log returns, NaN on the first bar."""
    return np.log(close / _lagged(close, 1))


def log_returns_of(data: Arrays) -> np.ndarray:
    """One-bar log returns of ``data["close"]`` (shared between the factors of a symbol; read-only)."""
    return shared(data, "log_returns", lambda: log_returns(data["close"]))


lagged = _lagged
