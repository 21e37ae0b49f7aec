"""The ``time_series`` engine: each asset trades its own signal, sized independently, with stops.

The strategy gives a signal per (bar, asset) in [-1, 1] (direction × conviction; NaN = flat).
Sizing turns it into a weight: ``fixed_fraction`` → ``signal × fraction``; ``vol_target`` →
``signal × fraction × target_vol / realised_vol`` (point-in-time annualised volatility of log
returns over ``vol_window`` bars), capped at ``max_weight``. By default an asset trades only when its
signal changes, so a stop-loss exit stays flat until the signal changes again, and volatility
targeting does not churn every bar.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from cde_backtest.calendar import RebalanceSchedule, decision_mask
from cde_backtest.costs import CostModel, cost_model
from cde_backtest.engines.common import EngineParams, aligned_weights, universe_mask
from cde_backtest.market import carry_over_gaps, checked_bars, forward_fill, market_from_panel
from cde_backtest.metrics import periods_per_year
from cde_backtest.results import BacktestResult
from cde_backtest.risk import LimitsRiskManager, RiskManager


class TimeSeriesParams(EngineParams):
    """Time-series engine settings (every bar is a decision bar by default)."""

    rebalance: RebalanceSchedule = Field(default_factory=lambda: RebalanceSchedule(every="bar"))
    sizing: Literal["fixed_fraction", "vol_target"] = Field("fixed_fraction", description="position sizing")
    fraction: float = Field(0.1, gt=0, description="fraction of NAV per asset at |signal| = 1")
    target_vol: float = Field(0.2, gt=0, description="vol_target: annualised volatility per position")
    vol_window: int = Field(24 * 30, ge=2, le=100_000, description="vol_target: bars of returns in the volatility")
    max_weight: float = Field(1.0, gt=0, description="cap of |weight| per asset after sizing")
    trade_on: Literal["signal_change", "every_decision"] = Field(
        "signal_change", description="trade an asset only when its signal changes, or re-size every decision")
    stop_loss: float | None = Field(None, gt=0, lt=1, description="exit when price moves this fraction "
                                    "against the entry price (checked on bar low/high)")
    take_profit: float | None = Field(None, gt=0, description="exit when price moves this fraction in favour")


def realised_vol(close: np.ndarray, window: int, ppy: float) -> np.ndarray:
    """Annualised std of log returns over the last ``window`` bars, using bars up to t only."""
    logc = np.log(forward_fill(close))
    r = np.vstack([np.full((1, close.shape[1]), np.nan), np.diff(logc, axis=0)])
    frame = pd.DataFrame(r)
    return frame.rolling(window, min_periods=max(2, window // 2)).std().to_numpy() * np.sqrt(ppy)


def size_signals(signal: np.ndarray, close: np.ndarray, p: TimeSeriesParams, ppy: float) -> np.ndarray:
    """Signals → weights according to the sizing rule (NaN signal → 0 weight)."""
    s = np.clip(np.nan_to_num(signal, nan=0.0), -1.0, 1.0)
    if p.sizing == "fixed_fraction":
        w = s * p.fraction
    else:
        vol = realised_vol(close, p.vol_window, ppy)
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(vol > 0, s * p.fraction * p.target_vol / vol, 0.0)
        w = np.nan_to_num(w, nan=0.0)
    return np.clip(w, -p.max_weight, p.max_weight)


def time_series_targets(signal: np.ndarray, weights: np.ndarray, decide: np.ndarray,
                        trade_on: str) -> np.ndarray:
    """Target rows of the decision bars; with ``signal_change`` NaN (no order) except where the signal
    differs from the previous decision row (first decision: wherever it is non-zero)."""
    rows = weights[decide]
    if trade_on == "signal_change":
        sig = np.nan_to_num(signal[decide], nan=0.0)
        prev = np.vstack([np.zeros((1, sig.shape[1])), sig[:-1]])
        rows = np.where(sig != prev, rows, np.nan)
    return rows


class TimeSeriesEngine:
    name = "time_series"
    summary = "per-asset signals, fixed-fraction or volatility-target sizing, stop-loss / take-profit"
    Params: ClassVar[type[BaseModel]] = TimeSeriesParams

    def run(self, panel: pd.DataFrame, weights: pd.Series, params: BaseModel, *,
            costs: CostModel | None = None, risk: RiskManager | None = None) -> BacktestResult:
        """``weights`` are the strategy's signals in [-1, 1]; sizing turns them into weights."""
        from cde_backtest.portfolio import simulate

        p = TimeSeriesParams.model_validate(params.model_dump())
        panel = checked_bars(panel)  # UTC timestamps, one row per bar, sane prices
        market = market_from_panel(panel, funding_column=p.funding_column)
        signal = aligned_weights(weights, market)
        universe = universe_mask(panel, market)
        if universe is not None:
            signal = np.where(universe, signal, 0.0)
        signal = carry_over_gaps(signal, ~np.isnan(market.close))
        decide = decision_mask(market.ts, p.rebalance)
        sized = size_signals(signal, market.close, p, periods_per_year(market.ts))
        targets = time_series_targets(signal, sized, decide, p.trade_on)
        sim = simulate(market, targets, decide, costs=costs or cost_model(p.costs),
                       risk=risk or LimitsRiskManager(p.risk), execution=p.execution,
                       initial_cash=p.initial_cash, stop_loss=p.stop_loss, take_profit=p.take_profit,
                       min_trade_value=p.min_trade_value, delist_after_bars=p.delist_after_bars)
        return BacktestResult.from_simulation(self.name, sim)
