"""Where the close sits inside the rolling high-low range (a stochastic-%K-like oscillator)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from cde_core.authoring import Factor

if TYPE_CHECKING:  # pandas loads only when the factor is used, not when `cde` starts
    import pandas as pd


class RangePositionParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window: int = Field(24, ge=2, le=10_000, description="bars in the rolling range")


class RangePositionFactor(Factor[RangePositionParams]):
    """(close − min low) / (max high − min low) over the last ``window`` bars, in [0, 1]."""

    name = "example_range_position"
    group = "example"
    summary = "position of the close inside the rolling high-low range (0 = at the low, 1 = at the high)"
    inputs = ("high", "low", "close")

    def lookback(self, params: RangePositionParams) -> int:
        return params.window - 1

    def values(self, bars: pd.DataFrame, params: RangePositionParams) -> pd.Series:
        low = bars["low"].rolling(params.window).min()
        high = bars["high"].rolling(params.window).max()
        return (bars["close"] - low) / (high - low).where(high > low)
