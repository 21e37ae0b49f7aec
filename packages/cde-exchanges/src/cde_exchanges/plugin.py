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
    from cde_exchanges.download.exchanges import BinanceExchange, OkxExchange

    register(BinanceExchange())
    register(OkxExchange())


@hookimpl
def register_commands(app: Any) -> None:
    from cde_exchanges.cli import register as register_exchange_commands

    register_exchange_commands(app)
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
