"""Ensembles: combine registered signals by weighted average, rank average or majority vote."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from cde_backtest.cross_section import rank_scores
from cde_backtest.signals.calls import generate


class EnsembleComponent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signal: str = Field(description="registered signal name")
    params: dict[str, Any] = Field(default_factory=dict, description="that signal's parameters")
    weight: float = Field(1.0, description="weight in the combination")


class EnsembleSignalParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    components: list[EnsembleComponent] = Field(min_length=1, description="signals to combine")
    method: Literal["mean", "rank_mean", "vote"] = Field(
        "mean", description="mean: weighted average; rank_mean: weighted average of cross-sectional "
        "ranks in [-1, 1]; vote: sign of the weighted sum of signs")


class EnsembleSignal:
    name = "ensemble"
    summary = "weighted average, rank average or vote of other registered signals"
    Params: ClassVar[type[BaseModel]] = EnsembleSignalParams

    def generate(self, features: pd.DataFrame, params: BaseModel) -> pd.Series:
        p = EnsembleSignalParams.model_validate(params.model_dump())
        total = np.zeros(len(features))
        weight_sum = np.zeros(len(features))
        for component in p.components:
            values = generate(component.signal, features, component.params)
            x = values.reindex(features.index).to_numpy(dtype=np.float64)
            if p.method == "rank_mean":
                wide = pd.Series(x, index=features.index).unstack("symbol")
                ranked = pd.DataFrame(rank_scores(wide.to_numpy()), index=wide.index, columns=wide.columns)
                x = ranked.stack(future_stack=True).reindex(features.index).to_numpy()
            elif p.method == "vote":
                x = np.sign(x)
            present = ~np.isnan(x)
            total += np.where(present, component.weight * np.nan_to_num(x), 0.0)
            weight_sum += np.where(present, abs(component.weight), 0.0)
        if p.method == "vote":
            out = np.sign(total)
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                out = np.where(weight_sum > 0, total / np.where(weight_sum > 0, weight_sum, 1.0), np.nan)
        return pd.Series(out, index=features.index, name=self.name)
