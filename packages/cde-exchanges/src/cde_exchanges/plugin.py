"""Entry-point module: registers the exchange adapters, commands and routes.

Imported on every ``cde`` invocation, so it imports nothing heavy at module level.
"""

from __future__ import annotations

from typing import Any

from cde_core import hookimpl


@hookimpl
def register_commands(app: Any) -> None:
    try:
        from cde_exchanges.universe.cli import register as register_universe
    except ImportError:
        register_universe = None
    if register_universe is not None:
        register_universe(app)

