"""Parameters and plumbing shared by the engines (execution, costs, risk, cash)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from cde_backtest.calendar import RebalanceSchedule
from cde_backtest.costs import CostParams
from cde_backtest.market import MarketArrays, wide
from cde_backtest.risk import RiskParams
from cde_core.bar_panels import utc_index
from cde_core.errors import DataError

UNIVERSE_COLUMN = "in_universe"


class EngineParams(BaseModel):
    """Settings every engine shares."""

    model_config = ConfigDict(extra="forbid")

    initial_cash: float = Field(1_000_000.0, gt=0, description="starting cash (quote currency)")
    execution: Literal["next_open", "close"] = Field(
        "next_open", description="next_open: fill at the open of the bar after the signal (default, "
        "no look-ahead); close: fill at the signal bar's close (vectorbt-style, for comparisons)")
    rebalance: RebalanceSchedule = Field(default_factory=RebalanceSchedule)
    costs: CostParams = Field(default_factory=CostParams)
    risk: RiskParams = Field(default_factory=RiskParams)
    min_trade_value: float = Field(0.0, ge=0, description="skip orders smaller than this notional")
    delist_after_bars: int | None = Field(
        72, ge=1, description="close a held asset at its last price once it has had no bar for this many of "
        "its usual bar spacings (a delisting; trade log reason 'delisted'); null: never")
    funding_column: str = Field("funding_rate", description="panel column with funding rates per bar "
                                "(paid on positions when present)")


def aligned_weights(weights: pd.Series, market: MarketArrays) -> np.ndarray:
    """Long weights (ts, symbol) → (T, N) aligned to the market arrays."""
    if not isinstance(weights, pd.Series) or not isinstance(weights.index, pd.MultiIndex):
        raise DataError("weights must be indexed by (ts, symbol)", where="engine input")
    if len(weights) == 0:
        return np.full((len(market.ts), len(market.symbols)), np.nan)
    values = weights.astype(np.float64).set_axis(utc_index(weights.index, what="the weights"))
    raw = values.to_numpy()
    if np.isinf(raw).any():
        ts, symbol = values.index[int(np.flatnonzero(np.isinf(raw))[0])]
        raise DataError(f"weight of {symbol} at {ts} is {raw[np.isinf(raw)][0]}", where="engine input",
                        hint="weights are fractions of equity; NaN means no position")
    aligned = wide(values, market.index, market.symbols)
    if np.isfinite(raw).any() and not np.isfinite(aligned).any():
        ts, symbol = values.index[int(np.flatnonzero(np.isfinite(raw))[0])]
        raise DataError(f"no weight matches a bar: e.g. {symbol} at {ts} is not in the bars panel",
                        where="engine input", hint="index the weights by the panel's (ts, symbol)")
    return aligned


def universe_mask(panel: pd.DataFrame, market: MarketArrays) -> np.ndarray | None:
    """The panel's ``in_universe`` column as a (T, N) bool mask, or None when absent."""
    if UNIVERSE_COLUMN not in panel.columns:
        return None
    mask = wide(panel[UNIVERSE_COLUMN].astype(np.float64), market.index, market.symbols)
    return np.nan_to_num(mask, nan=0.0) > 0.5
