"""Factor signals: one feature column → cross-sectional scores or target weights."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from cde_backtest.cross_section import quantile_weights, rank_scores, top_bottom_weights, zscores
from cde_backtest.signals.panel_io import column_wide, to_long


class FactorSignalParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: str = Field(description="feature column to use, e.g. ret_log_672")
    method: Literal["rank", "zscore", "top_bottom", "quantile"] = Field(
        "rank", description="rank / zscore → scores; top_bottom / quantile → target weights")
    direction: Literal[1, -1] = Field(1, description="1: high values are good; -1: low values are good")
    n_long: int = Field(3, ge=0, le=10_000, description="top_bottom: assets held long")
    n_short: int = Field(3, ge=0, le=10_000, description="top_bottom: assets held short")
    quantiles: int = Field(5, ge=2, le=100, description="quantile: number of buckets")
    long_gross: float = Field(0.5, ge=0, description="weights: total long exposure")
    short_gross: float = Field(0.5, ge=0, description="weights: total short exposure")


class FactorSignal:
    name = "factor"
    summary = "cross-sectional rank / z-score scores, or top-bottom-N / quantile target weights of a column"
    Params: ClassVar[type[BaseModel]] = FactorSignalParams

    def generate(self, features: pd.DataFrame, params: BaseModel) -> pd.Series:
        p = FactorSignalParams.model_validate(params.model_dump())
        frame = column_wide(features, p.column, where=f"signal {self.name}")
        x = frame.to_numpy() * p.direction
        if p.method == "rank":
            out = rank_scores(x)
        elif p.method == "zscore":
            out = zscores(x)
        elif p.method == "top_bottom":
            out = top_bottom_weights(x, p.n_long, p.n_short, p.long_gross, p.short_gross)
        else:
            out = quantile_weights(x, p.quantiles, p.long_gross, p.short_gross)
        return to_long(np.asarray(out, dtype=np.float64), frame, features.index).rename(self.name)
