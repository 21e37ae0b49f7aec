"""The ``cross_sectional`` engine: rebalance a whole portfolio to target weights on a calendar.

On each decision bar the strategy's weights (NaN → 0, non-members of the universe → 0, then risk
limits) become the portfolio's targets; they fill at the next bar's open by default. Between
decisions positions are held (their weights drift with prices).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from cde_backtest.calendar import decision_mask
from cde_backtest.costs import CostModel, cost_model
from cde_backtest.engines.common import EngineParams, aligned_weights, universe_mask
from cde_backtest.market import checked_bars, market_from_panel
from cde_backtest.results import BacktestResult
from cde_backtest.risk import LimitsRiskManager, RiskManager


class CrossSectionalParams(EngineParams):
    """Cross-sectional engine settings (weekly rebalance by default)."""

    normalize_gross: float | None = Field(
        None, gt=0, description="if set, scale every decision row to this gross exposure")


def cross_sectional_targets(weights: np.ndarray, decide: np.ndarray, universe: np.ndarray | None,
                            normalize_gross: float | None = None) -> np.ndarray:
    """The target rows of the decision bars: weights with NaN → 0 and non-members → 0."""
    rows = np.nan_to_num(weights[decide], nan=0.0)
    if universe is not None:
        rows = np.where(universe[decide], rows, 0.0)
    if normalize_gross is not None:
        gross = np.abs(rows).sum(axis=1, keepdims=True)
        rows = np.where(gross > 0, rows * normalize_gross / np.where(gross > 0, gross, 1.0), 0.0)
    return rows


class CrossSectionalEngine:
    name = "cross_sectional"
    summary = "portfolio rebalanced to target weights on a calendar; next-open fills, fees, funding, limits"
    Params: ClassVar[type[BaseModel]] = CrossSectionalParams

    def run(self, panel: pd.DataFrame, weights: pd.Series, params: BaseModel, *,
            costs: CostModel | None = None, risk: RiskManager | None = None) -> BacktestResult:
        from cde_backtest.portfolio import simulate

        p = CrossSectionalParams.model_validate(params.model_dump())
        panel = checked_bars(panel)  # UTC timestamps, one row per bar, sane prices
        market = market_from_panel(panel, funding_column=p.funding_column)
        decide = decision_mask(market.ts, p.rebalance)
        targets = cross_sectional_targets(aligned_weights(weights, market), decide,
                                          universe_mask(panel, market), p.normalize_gross)
        sim = simulate(market, targets, decide, costs=costs or cost_model(p.costs),
                       risk=risk or LimitsRiskManager(p.risk), execution=p.execution,
                       initial_cash=p.initial_cash, min_trade_value=p.min_trade_value,
                       delist_after_bars=p.delist_after_bars)
        return BacktestResult.from_simulation(self.name, sim)
