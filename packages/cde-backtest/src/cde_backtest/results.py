"""What an engine returns: the simulation arrays plus metrics, viewable as frames."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from cde_backtest.metrics import Metrics, compute_metrics
from cde_backtest.portfolio import Simulation


@dataclass
class BacktestResult:
    """NAV, returns, weights, positions, trade log, per-asset contributions and metrics of one run."""

    engine: str
    simulation: Simulation
    metrics: Metrics

    @classmethod
    def from_simulation(cls, engine: str, sim: Simulation) -> BacktestResult:
        trades = sim.trade_arrays[0]
        metrics = compute_metrics(sim.nav, sim.market.ts, initial_cash=sim.initial_cash, traded=sim.traded,
                                  gross=sim.gross, net=sim.net, fees=float(sim.fees.sum()),
                                  slippage=float(sim.slippage.sum()), funding=float(sim.funding.sum()),
                                  n_trades=len(trades))
        return cls(engine=engine, simulation=sim, metrics=metrics)

    @property
    def nav(self) -> pd.DataFrame:
        return self.simulation.nav_frame()

    @property
    def positions(self) -> pd.DataFrame:
        return self.simulation.positions_frame()

    @property
    def weights(self) -> pd.DataFrame:
        return self.simulation.weights_frame()

    @property
    def trades(self) -> pd.DataFrame:
        return self.simulation.trades()

    @property
    def contributions(self) -> pd.DataFrame:
        return self.simulation.contributions()
