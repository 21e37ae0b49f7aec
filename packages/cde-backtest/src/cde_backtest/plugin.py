"""cde-backtest's plugin module: registers signals, strategies and engines, the `cde backtest`
commands and the REST routes.

Imported on every `cde` invocation, so it imports only light modules here; Numba kernels, plotly
and the lake readers load when a backtest actually runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cde_core import hookimpl


@hookimpl
def register_signals(register: Callable[[Any], None]) -> None:
    from cde_backtest.signals.ensemble import EnsembleSignal
    from cde_backtest.signals.factor import FactorSignal
    from cde_backtest.signals.rule import RuleSignal

    for signal in (FactorSignal(), RuleSignal(), EnsembleSignal()):
        register(signal)


@hookimpl
def register_strategies(register: Callable[[Any], None]) -> None:
    from cde_backtest.strategies.mean_reversion import MeanReversionXS
    from cde_backtest.strategies.momentum_ls import MomentumLS
    from cde_backtest.strategies.signal_strategy import signal_strategies
    from cde_backtest.strategies.trend_following import TrendFollowing

    for strategy in (MomentumLS(), MeanReversionXS(), TrendFollowing(), *signal_strategies()):
        register(strategy)


@hookimpl
def register_engines(register: Callable[[Any], None]) -> None:
    from cde_backtest.engines.cross_sectional import CrossSectionalEngine
    from cde_backtest.engines.time_series import TimeSeriesEngine

    register(CrossSectionalEngine())
    register(TimeSeriesEngine())


@hookimpl
def register_commands(app: Any) -> None:
    from cde_backtest.cli import backtest_app

    app.add_typer(backtest_app, name="backtest")


@hookimpl
def register_routes(app: Any) -> None:
    from cde_backtest.api import build_router
    from cde_backtest.visual_routes import add_visual_routes

    app.include_router(build_router())
    add_visual_routes(app)


@hookimpl
def register_services(register: Callable[[Any], None]) -> None:
    from cde_backtest.models import BacktestRequest
    from cde_core.services import ServiceFunction

    register(ServiceFunction("backtest.run", "run a strategy on lake bars (+ features); stores the run folder",
                             BacktestRequest, "cde_backtest.service:run_backtest"))
