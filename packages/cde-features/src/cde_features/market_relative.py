"""Each symbol against the market: rolling beta, correlation and idiosyncratic volatility of the
one-factor market model ``r_i = α + β r_m + ε`` (Sharpe 1964; idiosyncratic volatility as in Ang,
Hodrick, Xing & Zhang 2006), on 1-bar log returns over the last n bars.

The market is ``ew`` — the equal-weight mean of the 1-bar log returns of every symbol of the panel
with a return at that timestamp (the symbol itself included) — ``btc``, the panel's BTC pair (the
first of :data:`BTC_SYMBOLS` present), or one symbol of the panel, e.g. ``ETHUSDT``. All use only
returns at or before each timestamp, so the panel adds no look-ahead.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cde_core.errors import DataError
from cde_features.factor_base import PanelFactor

EQUAL_WEIGHT = "ew"
#: ``market="btc"``: the first of these in the panel (spot / USDⓈ-M, COIN-M, then other quotes)
BTC_SYMBOLS = ("BTCUSDT", "BTCUSD_PERP", "BTCUSDC", "BTCFDUSD", "BTCUSD")


class MarketModelParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window: int = Field(168, ge=3, le=100_000, description="bars of 1-bar returns in the regression")
    market: str = Field(EQUAL_WEIGHT, min_length=1, pattern=r"^[A-Za-z0-9_\-]+$",
                        description="'ew' (equal-weight mean return of the panel), 'btc' (the panel's BTC pair: "
                                    "BTCUSDT, BTCUSD_PERP, ...) or a symbol, e.g. ETHUSDT")


def market_returns(returns: np.ndarray, market: str, symbols: list[str] | None) -> np.ndarray:
    """The market's 1-bar log returns per timestamp (see the module docstring)."""
    if market == EQUAL_WEIGHT:
        finite = np.isfinite(returns)
        count = finite.sum(axis=1)
        total = np.where(finite, returns, 0.0).sum(axis=1)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)
    if symbols is None:
        raise DataError(f"market={market} needs the panel's symbol names",
                        hint="compute through UnifiedFeatureCalculator or PanelFactor.compute")
    if market == "btc":
        market = next((s for s in BTC_SYMBOLS if s in symbols), "BTCUSDT")
    if market not in symbols:
        near = difflib.get_close_matches(market, symbols, n=3) or symbols[:3]
        raise DataError(f"market symbol '{market}' is not in the panel",
                        hint=f"use 'ew' or one of the panel's symbols, e.g. {', '.join(near)}")
    return np.ascontiguousarray(returns[:, symbols.index(market)])


class MarketModel(PanelFactor):
    """Rolling market model per symbol, three columns: ``beta = cov(r_i, r_m) / var(r_m)``,
    ``mkt_corr = cov / (σ_i σ_m)`` and ``idio_vol = √(SSR / (n − 2))``, the standard error of the OLS
    residuals (= √((n − 1)(var_i − cov² / var_m) / (n − 2)), sample moments with ddof 1). A window with
    a missing return on either side is NaN."""

    name = "market_beta"
    group = "market"
    summary = "rolling beta, correlation and idiosyncratic volatility against the market (ew or a symbol)"
    inputs = ("close",)
    Params: ClassVar[type[BaseModel]] = MarketModelParams

    def lookback(self, params: BaseModel) -> int:
        return self.params(params).window

    def columns(self, params: BaseModel) -> list[str]:
        p = self.params(params)
        tag = p.market.lower()
        return [f"beta_{tag}_{p.window}", f"mkt_corr_{tag}_{p.window}", f"idio_vol_{tag}_{p.window}"]

    def compute_grid(self, grids: Mapping[str, np.ndarray], params: BaseModel) -> list[np.ndarray]:
        from cde_features.kernels.rolling import rolling_cov, rolling_var

        p = self.params(params)
        close = np.asarray(grids["close"], dtype=np.float64)
        returns = np.full(close.shape, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            returns[1:] = np.log(close[1:] / close[:-1])
        market = market_returns(returns, p.market, getattr(grids, "symbols", None))
        w = p.window
        var_m = rolling_var(market, w, 1)
        beta, corr, idio = (np.full(close.shape, np.nan) for _ in range(3))
        with np.errstate(divide="ignore", invalid="ignore"):
            for j in range(close.shape[1]):
                r = np.ascontiguousarray(returns[:, j])
                cov = rolling_cov(r, market, w, 1)
                var_r = rolling_var(r, w, 1)
                beta[:, j] = cov / var_m
                corr[:, j] = cov / np.sqrt(var_r * var_m)
                resid = np.maximum(var_r - cov * cov / var_m, 0.0)
                idio[:, j] = np.sqrt(resid * (w - 1.0) / (w - 2.0))
        return [beta, corr, idio]


#: the factors of this module, as registered by cde_features.catalog
FACTORS: tuple[type, ...] = (MarketModel,)
