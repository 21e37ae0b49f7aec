"""Where the close sits inside the rolling high-low range (a stochastic-%K-like oscillator)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # pandas loads only when the object is used, not when `cde` starts
    import pandas as pd


class RangePositionParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window: int = Field(24, ge=2, le=10_000, description="bars in the rolling range")


class RangePositionFactor:
    """(close − min low) / (max high − min low) over the last ``window`` bars, in [0, 1]."""

    name = "example_range_position"
    group = "example"
    summary = "position of the close inside the rolling high-low range (0 = at the low, 1 = at the high)"
    inputs = ("high", "low", "close")
    cross_sectional = False
    Params: ClassVar[type[BaseModel]] = RangePositionParams

    def lookback(self, params: BaseModel) -> int:
        return RangePositionParams.model_validate(params.model_dump()).window - 1

    def columns(self, params: BaseModel) -> list[str]:
        return [f"example_range_position_{RangePositionParams.model_validate(params.model_dump()).window}"]

    def compute(self, bars: pd.DataFrame, params: BaseModel) -> pd.DataFrame:
        import pandas as pd

        window = RangePositionParams.model_validate(params.model_dump()).window
        low = bars["low"].rolling(window, min_periods=window).min()
        high = bars["high"].rolling(window, min_periods=window).max()
        span = (high - low).where(high > low)
        return pd.DataFrame({self.columns(params)[0]: (bars["close"] - low) / span}, index=bars.index)
