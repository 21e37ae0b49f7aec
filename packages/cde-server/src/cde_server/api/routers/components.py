"""GET /components/{kind}[/{name}]: every registered component with its Params JSON schema.

Straight from the loaded registries, so strategies, signal generators, engines, factors, bar
builders, exchanges and executors — built-in or third-party — are listed with no code per kind.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from cde_core.plugins import KINDS, get_plugins
from cde_core.registry import Registered
from cde_server.api.models import ComponentDetail, ComponentKind, ComponentSummary, KindCount
from cde_server.api.responses import problem_responses

router = APIRouter(prefix="/components", tags=["components"])

NamePath = Annotated[str, Path(description="component name", min_length=1, max_length=200)]


def _summary(entry: Registered) -> dict[str, Any]:
    return {"kind": entry.kind, "name": entry.name, "summary": entry.summary, "plugin": entry.plugin,
            "distribution": entry.distribution, "version": entry.version}


def _params_schema(entry: Registered) -> dict[str, Any] | None:
    params = getattr(entry.obj, "Params", None)
    try:
        return params.model_json_schema() if params is not None else None
    except Exception:  # a plugin's odd model must not break the listing
        return None


@router.get("", response_model=list[KindCount])
def list_kinds() -> list[KindCount]:
    """The component kinds and how many of each are registered."""
    host = get_plugins()
    return [KindCount(kind=kind, count=len(host.registry(kind))) for kind in KINDS]


@router.get("/{kind}", response_model=list[ComponentDetail])
def list_components(kind: ComponentKind) -> list[ComponentDetail]:
    """Every registered component of one kind, with its parameter schema."""
    return [ComponentDetail(**_summary(e), params_schema=_params_schema(e))
            for e in get_plugins().registry(kind.value)]


@router.get("/{kind}/{name}", response_model=ComponentDetail, responses=problem_responses(404))
def get_component(kind: ComponentKind, name: NamePath) -> ComponentDetail:
    """One component and its parameter schema; 404 (with the available names) if unknown."""
    entry = get_plugins().registry(kind.value).entry(name)
    return ComponentDetail(**_summary(entry), params_schema=_params_schema(entry))


__all__ = ["ComponentSummary", "router"]
