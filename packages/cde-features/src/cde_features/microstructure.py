"""Spread estimators from bars and bar-shape features."""

from __future__ import annotations

import math

import numpy as np

from cde_features.factor_base import Arrays, BarFactor, WindowFactor, shared, window_params
from cde_features.returns import lagged, log_returns_of


class RollSpread(WindowFactor):
    """Roll (1984): ``S = 2 √(−cov(Δp_t, Δp_{t−1}))`` with log prices over n bars; 0 when the
    autocovariance is positive (a common convention, e.g. Goyenko, Holden & Trzcinka 2009)."""

    name = "roll_spread"
    group = "microstructure"
    summary = "Roll implied relative spread from return autocovariance"
    inputs = ("close",)
    Params = window_params(24, minimum=3)

    def warmup(self, window: int) -> int:
        return window + 1

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_cov

        r = log_returns_of(data)
        cov = rolling_cov(r, lagged(r, 1), window, 1)
        return np.where(np.isnan(cov), np.nan, 2.0 * np.sqrt(np.maximum(-cov, 0.0)))


class CorwinSchultzSpread(WindowFactor):
    """Corwin & Schultz (2012), eqs. 14 & 18: for each pair of consecutive bars
    ``β = ln(H_t/L_t)² + ln(H_{t−1}/L_{t−1})²``, ``γ = ln(max(H_t, H_{t−1}) / min(L_t, L_{t−1}))²``,
    ``α = (√(2β) − √β) / (3 − 2√2) − √(γ / (3 − 2√2))``, ``S = 2 (e^α − 1) / (1 + e^α)``; negative
    estimates set to 0 (as in the paper), averaged over n bars. No overnight adjustment (24/7 markets)."""

    name = "corwin_schultz"
    group = "microstructure"
    summary = "Corwin-Schultz high-low spread estimator"
    inputs = ("high", "low")
    Params = window_params(24, minimum=1)

    def warmup(self, window: int) -> int:
        return window

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_mean

        return rolling_mean(shared(data, "corwin_schultz", lambda: self.bar_spread(data)), window)

    @staticmethod
    def bar_spread(data: Arrays) -> np.ndarray:
        """The two-bar spread estimate at each bar (negatives → 0), before averaging."""
        h, lo = data["high"], data["low"]
        hl = np.log(h / lo) ** 2
        beta = hl + lagged(hl, 1)
        gamma = np.log(np.fmax(h, lagged(h, 1)) / np.fmin(lo, lagged(lo, 1))) ** 2
        gamma = np.where(np.isnan(beta), np.nan, gamma)
        k = 3.0 - 2.0 * math.sqrt(2.0)
        alpha = (np.sqrt(2.0 * beta) - np.sqrt(beta)) / k - np.sqrt(gamma / k)
        spread = 2.0 * (np.exp(alpha) - 1.0) / (1.0 + np.exp(alpha))
        return np.where(np.isnan(spread), np.nan, np.maximum(spread, 0.0))


class AbdiRanaldoSpread(WindowFactor):
    """Abdi & Ranaldo (2017), eq. 9 with the pair (t−1, t) so nothing after t is used:
    ``s² = 4 · mean((c_{t−1} − η_{t−1}) (c_{t−1} − η_t))`` over n bars, ``c = ln C``,
    ``η = (ln H + ln L) / 2``; ``S = √max(s², 0)``."""

    name = "abdi_ranaldo"
    group = "microstructure"
    summary = "Abdi-Ranaldo close-high-low spread estimator"
    inputs = ("high", "low", "close")
    Params = window_params(24, minimum=1)

    def warmup(self, window: int) -> int:
        return window

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_mean

        c = np.log(data["close"])
        eta = 0.5 * (np.log(data["high"]) + np.log(data["low"]))
        c_prev = lagged(c, 1)
        s2 = 4.0 * rolling_mean((c_prev - lagged(eta, 1)) * (c_prev - eta), window)
        return np.where(np.isnan(s2), np.nan, np.sqrt(np.maximum(s2, 0.0)))


class ReturnAutocorrelation(WindowFactor):
    """First-order autocorrelation of 1-bar log returns over n bars (Lo & MacKinlay 1988)."""

    name = "ret_autocorr"
    group = "microstructure"
    summary = "lag-1 autocorrelation of returns"
    inputs = ("close",)
    Params = window_params(168, minimum=3)

    def warmup(self, window: int) -> int:
        return window + 1

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_corr

        r = log_returns_of(data)
        return rolling_corr(r, lagged(r, 1), window)


class VarianceRatio(WindowFactor):
    """Lo & MacKinlay (1988) variance ratio ``VR(q) = var(r_t(q)) / (q · var(r_t))`` with overlapping
    q-bar log returns, both variances over the last n bars; q = 4."""

    name = "var_ratio"
    group = "microstructure"
    summary = "variance ratio of 4-bar vs 1-bar returns (1 = random walk)"
    inputs = ("close",)
    Params = window_params(168, minimum=3)
    q = 4

    def warmup(self, window: int) -> int:
        return window + self.q - 1

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_var

        c = data["close"]
        rq = np.log(c / lagged(c, self.q))
        v1 = rolling_var(log_returns_of(data), window, 1)
        return rolling_var(rq, window, 1) / (self.q * np.where(v1 > 0, v1, np.nan))


class HighLowRange(BarFactor):
    """``ln(H / L)`` of the bar (Parkinson's range)."""

    name = "hl_range"
    group = "microstructure"
    summary = "log high-low range of the bar"
    inputs = ("high", "low")

    def calc(self, data: Arrays) -> np.ndarray:
        return np.log(data["high"] / data["low"])


def _span(data: Arrays) -> np.ndarray:
    span = data["high"] - data["low"]
    return np.where(span > 0, span, np.nan)


class CloseLocationValue(BarFactor):
    """CLV ``((C − L) − (H − C)) / (H − L)`` in [−1, 1] (Chaikin's money-flow multiplier)."""

    name = "clv"
    group = "microstructure"
    summary = "close location value within the bar (-1..1)"
    inputs = ("high", "low", "close")

    def calc(self, data: Arrays) -> np.ndarray:
        return ((data["close"] - data["low"]) - (data["high"] - data["close"])) / _span(data)


class BodyRatio(BarFactor):
    """Candle body ``(C − O) / (H − L)`` in [−1, 1] (Nison 1991)."""

    name = "body_ratio"
    group = "microstructure"
    summary = "candle body / range (-1..1)"
    inputs = ("open", "high", "low", "close")

    def calc(self, data: Arrays) -> np.ndarray:
        return (data["close"] - data["open"]) / _span(data)


class UpperShadow(BarFactor):
    """Upper wick ``(H − max(O, C)) / (H − L)`` (Nison 1991)."""

    name = "upper_shadow"
    group = "microstructure"
    summary = "upper wick / range (0..1)"
    inputs = ("open", "high", "low", "close")

    def calc(self, data: Arrays) -> np.ndarray:
        return (data["high"] - np.maximum(data["open"], data["close"])) / _span(data)


class LowerShadow(BarFactor):
    """Lower wick ``(min(O, C) − L) / (H − L)`` (Nison 1991)."""

    name = "lower_shadow"
    group = "microstructure"
    summary = "lower wick / range (0..1)"
    inputs = ("open", "high", "low", "close")

    def calc(self, data: Arrays) -> np.ndarray:
        return (np.minimum(data["open"], data["close"]) - data["low"]) / _span(data)
