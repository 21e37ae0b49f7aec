"""Band, oscillator and adaptive-average indicators a technical desk expects (TA-Lib definitions
unless stated; every output is scale-free so it compares across symbols)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cde_features.factor_base import Arrays, TimeSeriesFactor, WindowFactor, shared, window_params
from cde_features.returns import lagged

#: Bollinger's band width in standard deviations (TA-Lib BBANDS default nbdevup = nbdevdn = 2)
BOLLINGER_K = 2.0
#: Keltner channel (Raschke's version, as StockCharts): EMA ± 2 × ATR(10)
KELTNER_ATR, KELTNER_K = 10, 2.0
#: KAMA's fastest and slowest EMA spans (Kaufman; TA-Lib KAMA)
KAMA_FAST, KAMA_SLOW = 2, 30


def _bollinger(data: Arrays, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(middle, half width) of Bollinger bands: SMA_n(C) and k × population std (TA-Lib, ddof 0)."""
    from cde_features.kernels.rolling import rolling_mean, rolling_std

    close = data["close"]
    return shared(data, ("bollinger", window),
                  lambda: (rolling_mean(close, window), BOLLINGER_K * rolling_std(close, window, 0)))


class BollingerPercentB(WindowFactor):
    """Bollinger %b (Bollinger 2001): ``(C − lower) / (upper − lower)`` with bands SMA_n ± 2σ_n
    (population σ, TA-Lib BBANDS); 0 at the lower band, 1 at the upper; NaN when σ = 0."""

    name = "bb_pctb"
    group = "technical"
    summary = "Bollinger %b: position of the close within SMA ± 2 std bands"
    inputs = ("close",)
    Params = window_params(20)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        mid, half = _bollinger(data, window)
        return (data["close"] - (mid - half)) / np.where(half > 0, 2.0 * half, np.nan)


class BollingerBandwidth(WindowFactor):
    """Bollinger bandwidth: ``(upper − lower) / middle`` = 4σ_n / SMA_n (a volatility squeeze gauge)."""

    name = "bb_width"
    group = "technical"
    summary = "Bollinger bandwidth: (upper - lower band) / SMA"
    inputs = ("close",)
    Params = window_params(20)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        mid, half = _bollinger(data, window)
        return 2.0 * half / mid


class KeltnerWidth(WindowFactor):
    """Keltner channel width: ``(upper − lower) / middle`` = 2 · 2 ATR_10 / EMA_n(C), ATR Wilder-smoothed
    and EMA seeded with an SMA as everywhere in cde (Raschke's channel: EMA20 ± 2 ATR10)."""

    name = "keltner_width"
    group = "technical"
    summary = "Keltner channel width: 4 ATR(10) / EMA"
    inputs = ("high", "low", "close")
    Params = window_params(20)

    def warmup(self, window: int) -> int:
        return max(window - 1, KELTNER_ATR)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.indicators import true_range
        from cde_features.kernels.smoothing import ema, wilder

        atr = wilder(true_range(data["high"], data["low"], data["close"]), KELTNER_ATR)
        return 2.0 * KELTNER_K * atr / ema(data["close"], window)


class DonchianWidth(WindowFactor):
    """Donchian channel width (Donchian 1960s): ``(HH_n − LL_n) / ((HH_n + LL_n) / 2)``."""

    name = "donchian_width"
    group = "technical"
    summary = "Donchian channel width: (highest high - lowest low) / midpoint"
    inputs = ("high", "low")
    Params = window_params(20, minimum=1)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_max, rolling_min

        hh = rolling_max(data["high"], window)
        ll = rolling_min(data["low"], window)
        return 2.0 * (hh - ll) / (hh + ll)


class StochRsiParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window: int = Field(14, ge=2, le=10_000, description="RSI period (bars)")
    stoch: int = Field(14, ge=2, le=10_000, description="RSI values in the min-max range (%K)")
    smooth: int = Field(3, ge=1, le=1_000, description="SMA length of %D")


class StochasticRsi(TimeSeriesFactor):
    """StochRSI (Chande & Kroll 1994; TA-Lib STOCHRSI with an SMA %D): the stochastic oscillator of
    Wilder's RSI, ``%K = 100 (RSI − min_m RSI) / (max_m RSI − min_m RSI)``, ``%D = SMA_s(%K)``.
    NaN when the RSI range is zero."""

    name = "stochrsi"
    group = "technical"
    summary = "stochastic RSI %K and %D (0-100)"
    inputs = ("close",)
    Params: ClassVar[type[BaseModel]] = StochRsiParams

    def lookback(self, params: BaseModel) -> int:
        p = self.params(params)
        return p.window + p.stoch + p.smooth - 2

    def columns(self, params: BaseModel) -> list[str]:
        p = self.params(params)
        return [f"stochrsi_k_{p.window}_{p.stoch}", f"stochrsi_d_{p.window}_{p.stoch}_{p.smooth}"]

    def compute_arrays(self, data: Arrays, params: BaseModel) -> list[np.ndarray]:
        from cde_features.kernels.indicators import rsi
        from cde_features.kernels.rolling import rolling_max, rolling_mean, rolling_min

        p = self.params(params)
        r = rsi(data["close"], p.window)
        hi = rolling_max(r, p.stoch)
        lo = rolling_min(r, p.stoch)
        with np.errstate(divide="ignore", invalid="ignore"):
            k = 100.0 * (r - lo) / np.where(hi > lo, hi - lo, np.nan)
        return [k, rolling_mean(k, p.smooth)]


class ChandeMomentum(WindowFactor):
    """CMO (Chande & Kroll 1994, *The New Technical Trader*): ``100 (S_up − S_down) / (S_up + S_down)``
    with plain sums of the up and down close-to-close moves over n bars (the book's formula; TA-Lib's
    CMO smooths them Wilder-style instead). NaN when the price did not move."""

    name = "cmo"
    group = "technical"
    summary = "Chande momentum oscillator (-100..100)"
    inputs = ("close",)
    Params = window_params(14, minimum=1)

    def warmup(self, window: int) -> int:
        return window

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_sum

        close = data["close"]
        d = close - lagged(close, 1)
        up = rolling_sum(np.where(d > 0, d, np.where(np.isnan(d), np.nan, 0.0)), window)
        down = rolling_sum(np.where(d < 0, -d, np.where(np.isnan(d), np.nan, 0.0)), window)
        return 100.0 * (up - down) / (up + down)


class Trix(WindowFactor):
    """TRIX (Hutson 1983; TA-Lib TRIX): ``100 (E3_t / E3_{t−1} − 1)`` with E3 the EMA of the EMA of
    the EMA of the close (each α = 2/(n+1), seeded with its first n values' SMA): first value at bar
    3(n − 1) + 1."""

    name = "trix"
    group = "technical"
    summary = "TRIX: 1-bar % change of the triple-smoothed EMA"
    inputs = ("close",)
    Params = window_params(15)

    def warmup(self, window: int) -> int:
        return 3 * (window - 1) + 1

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.smoothing import ema

        e3 = ema(ema(ema(data["close"], window), window), window)
        return 100.0 * (e3 / lagged(e3, 1) - 1.0)


class KamaRatio(WindowFactor):
    """Close relative to Kaufman's adaptive moving average: ``C / KAMA_n − 1`` (KAMA as TA-Lib: fast
    span 2, slow span 30, efficiency ratio over n bars; see :mod:`cde_features.kernels.quant`)."""

    name = "kama_ratio"
    group = "technical"
    summary = "close / Kaufman adaptive moving average - 1"
    inputs = ("close",)
    Params = window_params(10, minimum=1)

    def warmup(self, window: int) -> int:
        return window

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.quant import kama

        close = np.ascontiguousarray(data["close"], dtype=np.float64)
        return close / kama(close, window, KAMA_FAST, KAMA_SLOW) - 1.0


#: the factors of this module, as registered by cde_features.catalog
FACTORS: tuple[type, ...] = (BollingerPercentB, BollingerBandwidth, KeltnerWidth, DonchianWidth, StochasticRsi,
                             ChandeMomentum, Trix, KamaRatio)
