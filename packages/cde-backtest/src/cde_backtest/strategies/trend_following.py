"""``trend_following``: per-asset moving-average trend, run by the ``time_series`` engine.

Signal +1 when the fast moving average of the close is above the slow one, −1 below (0 if
``long_only``), NaN until both averages exist. Sizing, stops and volatility targeting are the
engine's parameters.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cde_backtest.signals.panel_io import column_wide, to_long


class TrendFollowingParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fast: int = Field(24, ge=1, le=100_000, description="bars in the fast moving average")
    slow: int = Field(24 * 7, ge=2, le=100_000, description="bars in the slow moving average")
    long_only: bool = Field(False, description="flat instead of short in down-trends")

    @model_validator(mode="after")
    def _order(self) -> TrendFollowingParams:
        if self.fast >= self.slow:
            raise ValueError("fast must be shorter than slow")
        return self


class TrendFollowing:
    name = "trend_following"
    summary = "per-asset moving-average crossover trend (time_series engine: sizing, stops)"
    engine = "time_series"
    Params: ClassVar[type[BaseModel]] = TrendFollowingParams

    def target_weights(self, panel: pd.DataFrame, params: BaseModel) -> pd.Series:
        p = TrendFollowingParams.model_validate(params.model_dump())
        close = column_wide(panel, "close", where=self.name).ffill()
        fast = close.rolling(p.fast, min_periods=p.fast).mean()
        slow = close.rolling(p.slow, min_periods=p.slow).mean()
        signal = np.sign(fast - slow).to_numpy()
        if p.long_only:
            signal = np.where(signal < 0, 0.0, signal)
        return to_long(signal, close, panel.index).rename(self.name)
