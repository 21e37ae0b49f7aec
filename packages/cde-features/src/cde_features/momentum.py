"""Momentum and trend indicators (textbook definitions; conventions in docs/features.md)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cde_features.factor_base import Arrays, TimeSeriesFactor, WindowFactor, window_params
from cde_features.returns import lagged


class RateOfChange(WindowFactor):
    """ROC (Murphy 1999, *Technical Analysis of the Financial Markets*, ch. 10):
    ``100 · (C_t / C_{t−n} − 1)``."""

    name = "roc"
    group = "momentum"
    summary = "rate of change in percent over `window` bars"
    inputs = ("close",)
    Params = window_params(12, "horizon in bars", minimum=1)

    def warmup(self, window: int) -> int:
        return window

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        close = data["close"]
        return 100.0 * (close / lagged(close, window) - 1.0)


class RelativeStrengthIndex(WindowFactor):
    """RSI (Wilder 1978, *New Concepts in Technical Trading Systems*): ``100 − 100 / (1 + RS)``,
    RS = Wilder-smoothed average gain / average loss of close-to-close changes, seeded with the
    simple mean of the first n changes. 100 when there are no losses, 50 when flat."""

    name = "rsi"
    group = "momentum"
    summary = "relative strength index with Wilder smoothing (0-100)"
    inputs = ("close",)
    Params = window_params(14)

    def warmup(self, window: int) -> int:
        return window

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.indicators import rsi

        return rsi(data["close"], window)


class MacdParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fast: int = Field(12, ge=1, le=10_000, description="fast EMA span")
    slow: int = Field(26, ge=2, le=10_000, description="slow EMA span")
    signal: int = Field(9, ge=1, le=10_000, description="signal-line EMA span")

    @model_validator(mode="after")
    def _ordered(self) -> MacdParams:
        if self.fast >= self.slow:
            raise ValueError("fast must be shorter than slow")
        return self


def aligned_fast_ema(close: np.ndarray, p: Any) -> np.ndarray:
    """The fast EMA of MACD / PPO, started where the slow one starts (TA-Lib's MACD seeding)."""
    from cde_features.kernels.smoothing import ema_seeded_at

    return ema_seeded_at(close, p.fast, 2.0 / (p.fast + 1.0), p.slow)


class Macd(TimeSeriesFactor):
    """MACD (Appel 1979): ``EMA_fast(C) − EMA_slow(C)``, signal ``EMA_signal(MACD)``, histogram
    MACD − signal, seeded as TA-Lib's MACD: both EMAs (alpha = 2/(span+1)) start at bar slow − 1, the
    slow one at the SMA of the first slow closes, the fast one at the SMA of the fast closes ending
    there; the signal is seeded with the SMA of the first signal MACD values, so it starts at bar
    slow + signal − 2. Price units."""

    name = "macd"
    group = "momentum"
    summary = "MACD line, signal and histogram (price units)"
    inputs = ("close",)
    Params: ClassVar[type[BaseModel]] = MacdParams
    prefixes = ("macd", "macd_signal", "macd_hist")

    def lookback(self, params: BaseModel) -> int:
        p = self.params(params)
        return p.slow + p.signal - 2

    def columns(self, params: BaseModel) -> list[str]:
        p = self.params(params)
        return [f"{prefix}_{p.fast}_{p.slow}_{p.signal}" for prefix in self.prefixes]

    def lines(self, close: np.ndarray, p: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from cde_features.kernels.smoothing import ema

        line = aligned_fast_ema(close, p) - ema(close, p.slow)
        signal = ema(line, p.signal)
        return line, signal, line - signal

    def compute_arrays(self, data: Arrays, params: BaseModel) -> list[np.ndarray]:
        return list(self.lines(data["close"], self.params(params)))


class PercentagePriceOscillator(Macd):
    """PPO (Murphy 1999, ch. 10): ``100 · (EMA_fast − EMA_slow) / EMA_slow``, signal and histogram
    as in MACD, with MACD's seeding; scale-free, so comparable across symbols. (TA-Lib's ``PPO``
    uses simple moving averages by default; this is its ``matype=1`` form with MACD's seeding.)"""

    name = "ppo"
    summary = "percentage price oscillator (scale-free MACD), signal and histogram"
    prefixes = ("ppo", "ppo_signal", "ppo_hist")

    def lines(self, close: np.ndarray, p: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from cde_features.kernels.smoothing import ema

        slow = ema(close, p.slow)
        line = 100.0 * (aligned_fast_ema(close, p) - slow) / slow
        signal = ema(line, p.signal)
        return line, signal, line - signal


class StochasticParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window: int = Field(14, ge=1, le=10_000, description="bars in the high-low range (%K)")
    smooth: int = Field(3, ge=1, le=1_000, description="SMA length of %D")


class Stochastic(TimeSeriesFactor):
    """Stochastic oscillator (Lane 1984): ``%K = 100 (C − LL_n) / (HH_n − LL_n)``,
    ``%D = SMA_m(%K)`` (fast stochastic). NaN when the range is zero."""

    name = "stoch"
    group = "momentum"
    summary = "stochastic oscillator %K and %D (0-100)"
    inputs = ("high", "low", "close")
    Params: ClassVar[type[BaseModel]] = StochasticParams

    def lookback(self, params: BaseModel) -> int:
        p = self.params(params)
        return p.window + p.smooth - 2

    def columns(self, params: BaseModel) -> list[str]:
        p = self.params(params)
        return [f"stoch_k_{p.window}", f"stoch_d_{p.window}_{p.smooth}"]

    def compute_arrays(self, data: Arrays, params: BaseModel) -> list[np.ndarray]:
        from cde_features.kernels.rolling import rolling_max, rolling_mean, rolling_min

        p = self.params(params)
        hh = rolling_max(data["high"], p.window)
        ll = rolling_min(data["low"], p.window)
        span = np.where(hh > ll, hh - ll, np.nan)
        k = 100.0 * (data["close"] - ll) / span
        return [k, rolling_mean(k, p.smooth)]


class WilliamsR(WindowFactor):
    """Williams %R (Williams 1979): ``−100 (HH_n − C) / (HH_n − LL_n)``, in [−100, 0]."""

    name = "willr"
    group = "momentum"
    summary = "Williams %R (-100..0)"
    inputs = ("high", "low", "close")
    Params = window_params(14, minimum=1)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_max, rolling_min

        hh = rolling_max(data["high"], window)
        ll = rolling_min(data["low"], window)
        return -100.0 * (hh - data["close"]) / np.where(hh > ll, hh - ll, np.nan)


class MovingAverageRatio(WindowFactor):
    """Price relative to its simple moving average: ``C / SMA_n(C) − 1`` (Brock, Lakonishok &
    LeBaron 1992 moving-average rules, as a continuous signal)."""

    name = "ma_ratio"
    group = "momentum"
    summary = "close / simple moving average - 1"
    inputs = ("close",)
    Params = window_params(24)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_mean

        return data["close"] / rolling_mean(data["close"], window) - 1.0


class EmaRatio(WindowFactor):
    """``C / EMA_n(C) − 1``; EMA alpha = 2/(n+1), seeded with the SMA of the first n closes."""

    name = "ema_ratio"
    group = "momentum"
    summary = "close / exponential moving average - 1"
    inputs = ("close",)
    Params = window_params(24)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.smoothing import ema

        return data["close"] / ema(data["close"], window) - 1.0


class CrossParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fast: int = Field(24, ge=1, le=100_000, description="fast SMA length")
    slow: int = Field(168, ge=2, le=100_000, description="slow SMA length")


class MovingAverageCross(TimeSeriesFactor):
    """Dual moving-average crossover as a ratio: ``SMA_fast / SMA_slow − 1`` (Brock, Lakonishok &
    LeBaron 1992)."""

    name = "ma_cross"
    group = "momentum"
    summary = "fast SMA / slow SMA - 1"
    inputs = ("close",)
    Params: ClassVar[type[BaseModel]] = CrossParams

    def lookback(self, params: BaseModel) -> int:
        p = self.params(params)
        return max(p.fast, p.slow) - 1

    def columns(self, params: BaseModel) -> list[str]:
        p = self.params(params)
        return [f"ma_cross_{p.fast}_{p.slow}"]

    def compute_arrays(self, data: Arrays, params: BaseModel) -> list[np.ndarray]:
        from cde_features.kernels.rolling import rolling_mean

        p = self.params(params)
        return [rolling_mean(data["close"], p.fast) / rolling_mean(data["close"], p.slow) - 1.0]


class AverageDirectionalIndex(TimeSeriesFactor):
    """ADX, +DI, −DI (Wilder 1978): ``+DI = 100 RMA(+DM) / RMA(TR)``, ``DX = 100 |+DI − −DI| /
    (+DI + −DI)``, ``ADX = RMA(DX)``; RMA is Wilder's smoothing seeded with a simple mean. DI starts
    at bar n, ADX at bar 2n − 1 (TA-Lib's convention)."""

    name = "adx"
    group = "momentum"
    summary = "average directional index with +DI and -DI (Wilder)"
    inputs = ("high", "low", "close")
    Params = window_params(14)

    def lookback(self, params: BaseModel) -> int:
        return 2 * self.params(params).window - 1

    def columns(self, params: BaseModel) -> list[str]:
        w = self.params(params).window
        return [f"adx_{w}", f"plus_di_{w}", f"minus_di_{w}"]

    def compute_arrays(self, data: Arrays, params: BaseModel) -> list[np.ndarray]:
        from cde_features.kernels.indicators import directional

        plus_di, minus_di, adx = directional(data["high"], data["low"], data["close"],
                                             self.params(params).window)
        return [adx, plus_di, minus_di]


class CommodityChannelIndex(WindowFactor):
    """CCI (Lambert 1980): ``(TP − SMA_n(TP)) / (0.015 · MD_n(TP))`` with typical price
    ``TP = (H + L + C) / 3`` and MD the mean absolute deviation from the SMA."""

    name = "cci"
    group = "momentum"
    summary = "commodity channel index"
    inputs = ("high", "low", "close")
    Params = window_params(20)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.indicators import rolling_mean_abs_dev
        from cde_features.kernels.rolling import rolling_mean

        tp = (data["high"] + data["low"] + data["close"]) / 3.0
        md = rolling_mean_abs_dev(tp, window)
        return (tp - rolling_mean(tp, window)) / (0.015 * np.where(md > 0, md, np.nan))


class Aroon(TimeSeriesFactor):
    """Aroon (Chande 1995): over the last n + 1 bars, ``up = 100 (n − bars since the highest
    high) / n``, ``down`` likewise for the lowest low, ``osc = up − down`` (earliest bar on ties)."""

    name = "aroon"
    group = "momentum"
    summary = "Aroon up, down and oscillator"
    inputs = ("high", "low")
    Params = window_params(25, minimum=1)

    def lookback(self, params: BaseModel) -> int:
        return self.params(params).window

    def columns(self, params: BaseModel) -> list[str]:
        w = self.params(params).window
        return [f"aroon_up_{w}", f"aroon_down_{w}", f"aroon_osc_{w}"]

    def compute_arrays(self, data: Arrays, params: BaseModel) -> list[np.ndarray]:
        from cde_features.kernels.rolling import rolling_argmax, rolling_argmin

        w = self.params(params).window
        up = 100.0 * rolling_argmax(data["high"], w + 1) / w
        down = 100.0 * rolling_argmin(data["low"], w + 1) / w
        return [up, down, up - down]


class DistanceFromHigh(WindowFactor):
    """``C / max(H over n bars) − 1`` (George & Hwang 2004, 52-week-high momentum, per bar)."""

    name = "dist_high"
    group = "momentum"
    summary = "close relative to the rolling highest high"
    inputs = ("high", "close")
    Params = window_params(168, minimum=1)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_max

        return data["close"] / rolling_max(data["high"], window) - 1.0


class DistanceFromLow(WindowFactor):
    """``C / min(L over n bars) − 1``."""

    name = "dist_low"
    group = "momentum"
    summary = "close relative to the rolling lowest low"
    inputs = ("low", "close")
    Params = window_params(168, minimum=1)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_min

        return data["close"] / rolling_min(data["low"], window) - 1.0


class TrendSlope(WindowFactor):
    """Least-squares slope of ``ln C`` on time over n bars, times n (the fitted log move over the
    window); a trend-strength measure (e.g. Clenow 2015)."""

    name = "trend_slope"
    group = "momentum"
    summary = "OLS slope of log close over the window x window length"
    inputs = ("close",)
    Params = window_params(72)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_ols_slope

        return rolling_ols_slope(np.log(data["close"]), window) * window
