"""Cross-sectional transforms of another feature column, one cross-section (timestamp) at a time.

The source column must be computed earlier in the same run (list it before the transform in the
feature set). At each timestamp only that timestamp's values are used, so a transform adds no
look-ahead to its source. Symbols without a value (NaN) are ignored and stay NaN.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cde_features.factor_base import PanelFactor


class SourceParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field("ret_log_24", min_length=1, description="feature column to transform")


class _Transform(PanelFactor):
    group = "cross_sectional"
    inputs: tuple[str, ...] = ()
    Params: ClassVar[type[BaseModel]] = SourceParams
    suffix = ""

    def lookback(self, params: BaseModel) -> int:
        return 0

    def columns(self, params: BaseModel) -> list[str]:
        return [f"{self.params(params).source}_{self.suffix}"]

    def grid_inputs(self, params: BaseModel) -> tuple[str, ...]:
        return (self.params(params).source,)

    def transform(self, grid: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def compute_grid(self, grids: Mapping[str, np.ndarray], params: BaseModel) -> list[np.ndarray]:
        return [self.transform(np.ascontiguousarray(grids[self.params(params).source], dtype=np.float64))]


class CrossSectionalRank(_Transform):
    """Percentile rank across symbols, ties averaged, in (0, 1] (Kakushadze 2016 ``rank``)."""

    name = "cs_rank"
    summary = "cross-sectional percentile rank of a feature column"
    suffix = "csrank"

    def transform(self, grid: np.ndarray) -> np.ndarray:
        from cde_features.kernels.cross_section import cs_rank

        return cs_rank(grid)


class CrossSectionalZScore(_Transform):
    """``(x − mean) / std`` across symbols (sample std, ddof 1)."""

    name = "cs_zscore"
    summary = "cross-sectional z-score of a feature column"
    suffix = "csz"

    def transform(self, grid: np.ndarray) -> np.ndarray:
        from cde_features.kernels.cross_section import cs_zscore

        return cs_zscore(grid)


class CrossSectionalDemean(_Transform):
    """``x − mean`` across symbols (market-neutral version of the column)."""

    name = "cs_demean"
    summary = "cross-sectional demeaning of a feature column"
    suffix = "csdm"

    def transform(self, grid: np.ndarray) -> np.ndarray:
        from cde_features.kernels.cross_section import cs_demean

        return cs_demean(grid)
