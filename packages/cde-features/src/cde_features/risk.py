"""Momentum-with-skip, exponentially weighted volatility, drawdown and persistence (Hurst) factors."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cde_features.factor_base import Arrays, TimeSeriesFactor, WindowFactor, window_params
from cde_features.returns import lagged, log_returns_of


class SkipMomentumParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window: int = Field(168, ge=2, le=100_000, description="formation period in bars (168 = 7 days of 1 h bars)")
    skip: int = Field(24, ge=1, le=100_000, description="most recent bars left out (24 = 1 day)")

    @model_validator(mode="after")
    def _skip_inside(self) -> SkipMomentumParams:
        if self.skip >= self.window:
            raise ValueError("skip must be shorter than window")
        return self


class SkipMomentum(TimeSeriesFactor):
    """Momentum that skips the most recent bars (Jegadeesh & Titman 1993's 12-1 month momentum, here
    e.g. 7 days skipping 1 day): ``ln(C_{t−skip} / C_{t−window})``. Leaving out the latest bars keeps
    short-term reversal out of the momentum signal."""

    name = "mom_skip"
    group = "momentum"
    summary = "log return from `window` to `skip` bars ago (momentum skipping the latest bars)"
    inputs = ("close",)
    Params: ClassVar[type[BaseModel]] = SkipMomentumParams

    def lookback(self, params: BaseModel) -> int:
        return self.params(params).window

    def columns(self, params: BaseModel) -> list[str]:
        p = self.params(params)
        return [f"mom_skip_{p.window}_{p.skip}"]

    def compute_arrays(self, data: Arrays, params: BaseModel) -> list[np.ndarray]:
        p = self.params(params)
        close = data["close"]
        with np.errstate(divide="ignore", invalid="ignore"):
            return [np.log(lagged(close, p.skip) / lagged(close, p.window))]


class EwmaVol(WindowFactor):
    """EWMA volatility (J.P. Morgan RiskMetrics 1996): ``σ²_t = λ σ²_{t−1} + (1 − λ) r_t²`` on 1-bar
    log returns (zero mean), ``λ = 0.5^(1/halflife)``, seeded with the first squared return; per bar,
    not annualised. RiskMetrics' daily λ = 0.94 is a half-life of ≈ 11.2 bars. The first ``halflife``
    bars are warm-up."""

    name = "vol_ewma"
    group = "volatility"
    summary = "exponentially weighted (RiskMetrics) volatility of 1-bar log returns"
    inputs = ("close",)
    Params = window_params(24, "half-life of the weights in bars", minimum=1)

    def warmup(self, window: int) -> int:
        return window

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.quant import ewma_variance

        out = np.sqrt(ewma_variance(log_returns_of(data), 1.0 - 0.5 ** (1.0 / window)))
        out[:window] = np.nan
        return out


class MaxDrawdown(WindowFactor):
    """Rolling maximum drawdown of the close over the last n bars: ``max_i (1 − C_i / max_{j≤i} C_j)``
    with i, j inside the window (0 = no drawdown, 0.3 = a 30 % peak-to-trough fall)."""

    name = "max_drawdown"
    group = "distribution"
    summary = "largest peak-to-trough fall of the close within the window (fraction)"
    inputs = ("close",)
    Params = window_params(168)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.quant import rolling_max_drawdown

        return rolling_max_drawdown(np.ascontiguousarray(data["close"], dtype=np.float64), window)


#: lags τ of the Hurst regression (powers of two)
HURST_LAGS = (1, 2, 4, 8, 16)


class HurstExponent(WindowFactor):
    """Hurst exponent from the scaling of log-price differences (Mandelbrot & Van Ness 1968; the
    generalised-Hurst estimator with q = 2, Di Matteo 2007): over the last n log closes x, σ(τ) =
    population std of ``x_i − x_{i−τ}`` (both inside the window) for τ = 1, 2, 4, 8, 16, and H = the OLS
    slope of ln σ(τ) on ln τ. 0.5 for a random walk, above for trending, below for mean-reverting."""

    name = "hurst"
    group = "distribution"
    summary = "Hurst exponent: slope of log std of tau-bar log-price changes on log tau"
    inputs = ("close",)
    Params = window_params(168, "log closes in the window (more than 32)", minimum=33)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_var

        x = np.log(data["close"])
        log_lags = np.log(np.asarray(HURST_LAGS, dtype=np.float64))
        centred = log_lags - log_lags.mean()
        slope = np.zeros(x.shape[0])
        for lag, weight in zip(HURST_LAGS, centred, strict=True):
            diffs = np.ascontiguousarray(x - lagged(x, lag))
            slope += weight * 0.5 * np.log(rolling_var(diffs, window - lag, 0))
        return slope / float(centred @ centred)


#: the factors of this module, as registered by cde_features.catalog
FACTORS: tuple[type, ...] = (SkipMomentum, EwmaVol, MaxDrawdown, HurstExponent)
