"""Cost models: what a fill costs in fees and slippage.

A cost model turns the bars into per-bar, per-asset *rates* before the simulation starts, so the
Numba kernel only multiplies: ``fee = notional × fee_rate`` and
``slippage = notional × slip_rate + impact × notional × sqrt(notional / bar quote volume)``.
Both are charged in cash on top of the fill at the reference price (open, close or stop price), so
the trade log's ``price`` is the market price and ``slippage`` the money lost to it.
Plug in another model by passing any object with ``rates(market)`` to the engine, or register it in
:data:`COST_MODELS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from cde_backtest.market import MarketArrays


class CostParams(BaseModel):
    """Fees and slippage of every fill."""

    model_config = ConfigDict(extra="forbid")

    model: Literal["fixed", "volume_range"] = Field(
        "fixed", description="fixed: constant bp; volume_range: slippage grows with bar range and size")
    maker_bp: float = Field(2.0, ge=0, description="maker fee, basis points of notional")
    taker_bp: float = Field(5.0, ge=0, description="taker fee, basis points of notional")
    fee_side: Literal["maker", "taker"] = Field(
        "taker", description="which fee applies (orders at open/close are normally taker)")
    slippage_bp: float = Field(0.0, ge=0, description="fixed slippage, basis points of notional")
    range_share: float = Field(0.0, ge=0, description="volume_range: share of the bar's (high-low)/close "
                               "paid as slippage")
    impact: float = Field(0.0, ge=0, description="volume_range: square-root impact coefficient × "
                          "sqrt(notional / bar quote volume)")
    max_slippage_bp: float = Field(100.0, ge=0, description="volume_range: cap of the per-bar slippage rate")


@dataclass(frozen=True)
class CostRates:
    """Per-fill rates; each array is (T, N) or (1, 1) when constant (the kernel broadcasts)."""

    fee_rate: np.ndarray
    slip_rate: np.ndarray
    impact: float


class CostModel(Protocol):
    """Anything that turns market arrays into :class:`CostRates`."""

    def rates(self, market: MarketArrays) -> CostRates: ...


def _const(value: float) -> np.ndarray:
    return np.full((1, 1), value, dtype=np.float64)


class FixedBpsCostModel:
    """Constant fee and slippage in basis points."""

    def __init__(self, params: CostParams) -> None:
        self.params = params

    def fee(self) -> float:
        p = self.params
        return (p.maker_bp if p.fee_side == "maker" else p.taker_bp) / 1e4

    def rates(self, market: MarketArrays) -> CostRates:
        return CostRates(_const(self.fee()), _const(self.params.slippage_bp / 1e4), 0.0)


class VolumeRangeCostModel(FixedBpsCostModel):
    """Slippage = fixed bp + a share of the bar's relative range (a spread proxy), capped, plus
    square-root impact on the bar's quote volume: wide, thin bars cost more."""

    def rates(self, market: MarketArrays) -> CostRates:
        p = self.params
        with np.errstate(invalid="ignore", divide="ignore"):
            rel_range = (market.high - market.low) / market.close
        rel_range = np.nan_to_num(rel_range, nan=0.0, posinf=0.0)
        slip = np.minimum(p.slippage_bp / 1e4 + p.range_share * rel_range, p.max_slippage_bp / 1e4)
        return CostRates(_const(self.fee()), slip, p.impact)


COST_MODELS: dict[str, type[FixedBpsCostModel]] = {
    "fixed": FixedBpsCostModel,
    "volume_range": VolumeRangeCostModel,
}


def cost_model(params: CostParams) -> CostModel:
    return COST_MODELS[params.model](params)
