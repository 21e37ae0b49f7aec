"""``mean_reversion_xs``: cross-sectional short-term reversal — long the recent losers, short the
recent winners, inside the same point-in-time universe as ``momentum_ls``."""

from __future__ import annotations

from typing import ClassVar

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from cde_backtest.strategies.momentum_ls import long_short_weights, score_frame


class MeanReversionParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    factor: str = Field("ret_log_24", description="feature column with the short-term return")
    lookback: int = Field(24, ge=1, le=100_000, description="bars of log return when the factor column is absent")
    universe_size: int | None = Field(None, ge=1, description="top-N by trailing quote volume (None: all)")
    volume_window: int = Field(24 * 30, ge=1, le=100_000, description="bars of quote volume for the universe rank")
    n_long: int = Field(3, ge=0, le=10_000, description="losers held long")
    n_short: int = Field(3, ge=0, le=10_000, description="winners held short")
    gross: float = Field(1.0, gt=0, description="total gross exposure")


class MeanReversionXS:
    name = "mean_reversion_xs"
    summary = "short-term reversal: long the n worst / short the n best recent returns, equal weight"
    engine = "cross_sectional"
    Params: ClassVar[type[BaseModel]] = MeanReversionParams

    def target_weights(self, panel: pd.DataFrame, params: BaseModel) -> pd.Series:
        p = MeanReversionParams.model_validate(params.model_dump())
        score = -score_frame(panel, p.factor, p.lookback, factor_given="factor" in params.model_fields_set)
        return long_short_weights(panel, score, universe_size=p.universe_size, volume_window=p.volume_window,
                                  n_long=p.n_long, n_short=p.n_short, gross=p.gross).rename(self.name)
