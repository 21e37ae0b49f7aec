"""Long the symbols whose close sits lowest in their range, short the highest (mean reversion)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from cde_core.authoring import Strategy

if TYPE_CHECKING:  # pandas loads only when the strategy is used, not when `cde` starts
    import pandas as pd


class LowRangeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    factor: str = Field("example_range_position_24", description="feature column to rank")
    n: int = Field(2, ge=1, description="symbols long and short")


class LowRangeStrategy(Strategy[LowRangeParams]):
    name = "example_low_range"
    summary = "long the n lowest range positions, short the n highest, equal weight"
    engine = "cross_sectional"

    def target_weights(self, panel: pd.DataFrame, params: LowRangeParams) -> pd.Series:
        import pandas as pd

        score = panel[params.factor]
        rank = score.groupby(level="ts").rank(method="first")
        count = score.groupby(level="ts").transform("count")
        weights = pd.Series(0.0, index=panel.index)
        weights[rank <= params.n] = 0.5 / params.n
        weights[rank > count - params.n] = -0.5 / params.n
        return weights.where(count >= 2 * params.n, 0.0)
