"""GET /plugins: the same report as ``cde plugins --json``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cde_server.api.models import PluginsReport
from cde_server.cli.plugins_command import plugins_report

router = APIRouter(tags=["plugins"])


@router.get("/plugins", response_model=PluginsReport)
def list_plugins(builtin: Annotated[bool, Query(description="include cde's own plugins")] = True) -> PluginsReport:
    """Installed plugins, what each registered, and the broken ones with their error."""
    return PluginsReport.model_validate(plugins_report(include_builtin=builtin))
