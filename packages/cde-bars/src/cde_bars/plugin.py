"""cde-bars' plugin module (entry point ``bars``): registers the builders, the CLI and the routes.

Imported on every ``cde`` invocation, so it pulls in only pydantic models and small classes; Numba
kernels load on first use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cde_core import hookimpl


@hookimpl
def register_bar_builders(register: Callable[[Any], None]) -> None:
    from cde_bars.catalog import all_builders

    for builder in all_builders():
        register(builder)


@hookimpl
def register_commands(app: Any) -> None:
    from cde_bars.commands import add_commands

    add_commands(app)


@hookimpl
def register_routes(app: Any) -> None:
    from cde_bars.api import add_routes
    from cde_bars.visual_routes import add_visual_routes

    add_routes(app)
    add_visual_routes(app)


@hookimpl
def register_services(register: Callable[[Any], None]) -> None:
    from cde_bars.requests import AggregateRequest
    from cde_core.services import ServiceFunction

    register(ServiceFunction("bars.aggregate", "build bars of one spec from the trades lake (resumable)",
                             AggregateRequest, "cde_bars.aggregate:aggregate_lake"))
