"""Entry-point module: registers the exchange adapters, commands and routes.

Imported on every ``cde`` invocation, so it imports nothing heavy at module level: each hook imports
what it registers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cde_core import hookimpl


@hookimpl
def register_exchanges(register: Callable[[Any], None]) -> None:
    from cde_exchanges.binance import BinanceArchive
    from cde_exchanges.okx import OkxArchive

    register(BinanceArchive())
    register(OkxArchive())


@hookimpl
def register_commands(app: Any) -> None:
    from cde_exchanges.cli import register as register_exchange_commands
    from cde_exchanges.import_cli import register as register_import_commands

    register_exchange_commands(app)
    register_import_commands(app)
    try:
        from cde_exchanges.universe.cli import register as register_universe
    except ImportError:
        register_universe = None
    if register_universe is not None:
        register_universe(app)


@hookimpl
def register_routes(app: Any) -> None:
    from cde_exchanges.api import register_routes as add_routes

    add_routes(app)


@hookimpl
def register_services(register: Callable[[Any], None]) -> None:
    from cde_core.services import ServiceFunction
    from cde_exchanges.bar_import import BarImportRequest
    from cde_exchanges.trade_import import TradeImportRequest

    register(ServiceFunction("trades.import", "your own trades (CSV, CSV.gz, Parquet) into the trades lake",
                             TradeImportRequest, "cde_exchanges.trade_import:import_trades"))
    register(ServiceFunction("bars.import", "your own OHLCV bars into the bars lake (spec imported-…)",
                             BarImportRequest, "cde_exchanges.bar_import:import_bars"))
