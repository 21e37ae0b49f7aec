"""cde-features' plugin module (entry point ``features``): registers the built-in factors, the
``cde features`` commands and the ``/features`` routes. Import stays cheap: no Numba, no plots."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cde_core import hookimpl


@hookimpl
def register_factors(register: Callable[[Any], None]) -> None:
    from cde_features.catalog import builtin_factors

    for factor in builtin_factors():
        register(factor)


@hookimpl
def register_commands(app: Any) -> None:
    from cde_features.cli import features_app

    app.add_typer(features_app, name="features")


@hookimpl
def register_routes(app: Any) -> None:
    from cde_features.api import router
    from cde_features.visual_routes import add_visual_routes

    app.include_router(router)
    add_visual_routes(app)


@hookimpl
def register_services(register: Callable[[Any], None]) -> None:
    from cde_core.services import ServiceFunction
    from cde_features.service import ComputeRequest

    register(ServiceFunction("features.compute", "compute a feature set from the bars lake into the features lake",
                             ComputeRequest, "cde_features.service:compute_to_lake"))
