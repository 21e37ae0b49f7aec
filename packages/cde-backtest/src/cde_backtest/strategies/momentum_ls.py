"""``momentum_ls``: cross-sectional momentum, long the winners and short the losers.

The seed's flow: each rebalance, take the top-N symbols by trailing quote volume (point in time),
rank them by trailing return (the ``ret_log_672`` feature, 4 weeks of 1 h bars, or computed from
closes when the feature set lacks it), go long the top ``n_long`` and short the bottom ``n_short``
with equal weights. The engine's calendar (weekly by default) picks the rebalance bars.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from cde_backtest.cross_section import top_bottom_weights
from cde_backtest.signals.panel_io import column_wide, to_long
from cde_backtest.strategies.universe import membership, top_n_by_trailing_volume


class MomentumLSParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    factor: str = Field("ret_log_672", description="feature column with the trailing return")
    lookback: int = Field(672, ge=1, le=100_000, description="bars of log return when the factor column is absent")
    universe_size: int | None = Field(None, ge=1, description="top-N by trailing quote volume (None: all)")
    volume_window: int = Field(24 * 30, ge=1, le=100_000, description="bars of quote volume for the universe rank")
    n_long: int = Field(3, ge=0, le=10_000, description="winners held long")
    n_short: int = Field(3, ge=0, le=10_000, description="losers held short")
    gross: float = Field(1.0, gt=0, description="total gross exposure, split equally long / short")


def trailing_log_return(panel: pd.DataFrame, lookback: int) -> pd.DataFrame:
    """log(close_t / close_{t−lookback}) per symbol, wide; uses bars ≤ t only."""
    close = column_wide(panel, "close", where="momentum")
    return np.log(close / close.shift(lookback))


def score_frame(panel: pd.DataFrame, factor: str, lookback: int, *, factor_given: bool) -> pd.DataFrame:
    """The ``factor`` column, or the trailing log return over ``lookback`` bars computed from closes
    when the panel lacks it and the factor was left at its default or names that very return
    (``ret_log_<lookback>``). Any other missing name is an error with the nearest columns: a typo must
    not quietly become a different factor."""
    computable = not factor_given or factor == f"ret_log_{lookback}"
    if factor in panel.columns or not computable:
        return column_wide(panel, factor, where=f"strategy parameter factor={factor}")
    return trailing_log_return(panel, lookback)


def long_short_weights(panel: pd.DataFrame, score: pd.DataFrame, *, universe_size: int | None,
                       volume_window: int, n_long: int, n_short: int, gross: float) -> pd.Series:
    """Equal-weight top/bottom of ``score`` within the point-in-time universe."""
    x = score.to_numpy(dtype=np.float64).copy()
    given = membership(panel, score.index, score.columns)
    if given is not None:
        x[~given] = np.nan
    if universe_size is not None:
        qv = column_wide(panel, "quote_volume", where="universe").reindex_like(score).to_numpy()
        x[~top_n_by_trailing_volume(qv, volume_window, universe_size)] = np.nan
    total = n_long + n_short
    long_gross = gross * n_long / total if total else 0.0
    w = top_bottom_weights(x, n_long, n_short, long_gross, gross - long_gross)
    return to_long(w, score, panel.index)


class MomentumLS:
    name = "momentum_ls"
    summary = "top-N by quote volume, long the n best / short the n worst trailing returns, equal weight"
    engine = "cross_sectional"
    Params: ClassVar[type[BaseModel]] = MomentumLSParams

    def target_weights(self, panel: pd.DataFrame, params: BaseModel) -> pd.Series:
        p = MomentumLSParams.model_validate(params.model_dump())
        score = score_frame(panel, p.factor, p.lookback, factor_given="factor" in params.model_fields_set)
        return long_short_weights(panel, score, universe_size=p.universe_size, volume_window=p.volume_window,
                                  n_long=p.n_long, n_short=p.n_short, gross=p.gross).rename(self.name)
