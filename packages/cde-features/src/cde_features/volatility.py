"""Volatility estimators, per bar (not annualised; multiply by sqrt(bars per year) to annualise).

Range-based estimators average a per-bar variance term over ``window`` bars and take the square
root: Parkinson (1980), Garman & Klass (1980), Rogers & Satchell (1991), Yang & Zhang (2000).
"""

from __future__ import annotations

import math

import numpy as np

from cde_features.factor_base import Arrays, WindowFactor, shared, window_params
from cde_features.returns import lagged, log_returns_of


def _mean(x: np.ndarray, window: int) -> np.ndarray:
    from cde_features.kernels.rolling import rolling_mean

    return rolling_mean(np.ascontiguousarray(x, dtype=np.float64), window)


class CloseToCloseVol(WindowFactor):
    """Sample standard deviation (ddof = 1) of one-bar log returns over ``window`` bars."""

    name = "vol_cc"
    group = "volatility"
    summary = "close-to-close volatility: std of 1-bar log returns"
    inputs = ("close",)
    Params = window_params(24)

    def warmup(self, window: int) -> int:
        return window

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_std

        return rolling_std(log_returns_of(data), window, 1)


class ParkinsonVol(WindowFactor):
    """Parkinson (1980): ``σ² = mean(ln(H/L)²) / (4 ln 2)``."""

    name = "vol_parkinson"
    group = "volatility"
    summary = "Parkinson high-low range volatility"
    inputs = ("high", "low")
    Params = window_params(24)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        hl = np.log(data["high"] / data["low"])
        return np.sqrt(_mean(hl * hl, window) / (4.0 * math.log(2.0)))


class GarmanKlassVol(WindowFactor):
    """Garman & Klass (1980): ``σ² = mean(½ ln(H/L)² − (2 ln 2 − 1) ln(C/O)²)``."""

    name = "vol_gk"
    group = "volatility"
    summary = "Garman-Klass OHLC volatility"
    inputs = ("open", "high", "low", "close")
    Params = window_params(24)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        hl = np.log(data["high"] / data["low"])
        co = np.log(data["close"] / data["open"])
        term = 0.5 * hl * hl - (2.0 * math.log(2.0) - 1.0) * co * co
        return np.sqrt(np.maximum(_mean(term, window), 0.0))


def rogers_satchell_term(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``ln(H/C)·ln(H/O) + ln(L/C)·ln(L/O)`` (Rogers & Satchell 1991, eq. 3)."""
    return np.log(h / c) * np.log(h / o) + np.log(lo / c) * np.log(lo / o)


def _rs_term(data: Arrays) -> np.ndarray:
    """The Rogers–Satchell term of each bar (shared by the RS and Yang–Zhang factors of a symbol)."""
    return shared(data, "rogers_satchell", lambda: rogers_satchell_term(data["open"], data["high"],
                                                                         data["low"], data["close"]))


class RogersSatchellVol(WindowFactor):
    """Rogers & Satchell (1991): ``σ² = mean(ln(H/C) ln(H/O) + ln(L/C) ln(L/O))`` (drift-free)."""

    name = "vol_rs"
    group = "volatility"
    summary = "Rogers-Satchell drift-independent volatility"
    inputs = ("open", "high", "low", "close")
    Params = window_params(24)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        return np.sqrt(np.maximum(_mean(_rs_term(data), window), 0.0))


class YangZhangVol(WindowFactor):
    """Yang & Zhang (2000), eq. 13: ``σ² = σ_o² + k σ_c² + (1 − k) σ_rs²`` with overnight returns
    ``ln(O_t / C_{t−1})``, open-to-close returns ``ln(C_t / O_t)`` (both sample variances, ddof = 1),
    the Rogers–Satchell mean ``σ_rs²`` and ``k = 0.34 / (1.34 + (n + 1) / (n − 1))``."""

    name = "vol_yz"
    group = "volatility"
    summary = "Yang-Zhang volatility (overnight + open-to-close + Rogers-Satchell)"
    inputs = ("open", "high", "low", "close")
    Params = window_params(24, minimum=3)

    def warmup(self, window: int) -> int:
        return window

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_var

        o, c = data["open"], data["close"]
        overnight = shared(data, "log_overnight", lambda: np.log(o / lagged(c, 1)))
        open_close = shared(data, "log_close_open", lambda: np.log(c / o))
        k = 0.34 / (1.34 + (window + 1.0) / (window - 1.0))
        rs = _mean(_rs_term(data), window)
        var = rolling_var(overnight, window, 1) + k * rolling_var(open_close, window, 1) + (1.0 - k) * rs
        return np.sqrt(np.maximum(var, 0.0))


class AverageTrueRange(WindowFactor):
    """Wilder (1978) ATR: Wilder-smoothed true range, seeded with the mean of the first n TRs
    (TR needs the previous close, so the first ATR is at bar n)."""

    name = "atr"
    group = "volatility"
    summary = "average true range (Wilder), price units"
    inputs = ("high", "low", "close")
    Params = window_params(14)

    def warmup(self, window: int) -> int:
        return window

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.indicators import true_range
        from cde_features.kernels.smoothing import wilder

        return wilder(true_range(data["high"], data["low"], data["close"]), window)


class NormalizedATR(AverageTrueRange):
    """ATR divided by the close (comparable across symbols)."""

    name = "natr"
    summary = "average true range / close"

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        return super().calc(data, window) / data["close"]
