"""Response models of cde-server's own routes (the CLI parses the same models)."""

from __future__ import annotations

from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, Field

from cde_core.plugins import KINDS

#: the registry kinds as an enum, so the OpenAPI schema lists them and clients can't typo one
ComponentKind = Enum("ComponentKind", {kind: kind for kind in KINDS}, type=str)  # type: ignore[misc]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str = Field(description="cde-server version")
    core_version: str = Field(description="cde-core version")
    task_store: str = Field(description="memory or redis")
    instance: str = Field(description="id of this server instance (tasks record their owner)")


class ComponentSummary(BaseModel):
    kind: str
    name: str
    summary: str
    plugin: str = Field(description="plugin that registered it")
    distribution: str = Field(description="package that ships the plugin")
    version: str


class ComponentDetail(ComponentSummary):
    params_schema: dict[str, Any] | None = Field(
        description="JSON schema of the component's Params model (null if it cannot be rendered)")


class KindCount(BaseModel):
    kind: str
    count: int


class PluginEntry(BaseModel):
    name: str
    distribution: str
    version: str
    builtin: bool
    status: Literal["ok", "broken"]
    hooks: list[str]
    error: str | None = Field(None, description="why the plugin is broken (then nothing it offers is used)")
    rejected: list[str] = Field(default_factory=list, description="objects, commands or routes refused "
                                "because another plugin had the name first, each naming that owner")
    commands: list[str] = Field(default_factory=list, description="top-level `cde` commands it added")
    routes: list[str] = Field(default_factory=list, description="REST routes it added (`METHOD path`)")


class ComponentEntry(BaseModel):
    kind: str
    name: str
    plugin: str
    distribution: str
    version: str
    summary: str


class PluginsReport(BaseModel):
    """What ``cde plugins --json`` prints."""

    plugins: list[PluginEntry]
    components: list[ComponentEntry]
