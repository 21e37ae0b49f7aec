"""`cde plugins`: what is installed, what each plugin registered, and what is broken."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from cde_core.console import table_console
from cde_core.plugins import PluginHost, get_plugins


def _record_routes(host: PluginHost) -> None:
    """Routes are recorded when an API app is built; the CLI builds a throwaway one to list them."""
    if any("routes" in p.added for p in host.loaded()):
        return
    from cde_core.config import get_config
    from cde_server.api.app import create_app
    from cde_server.tasks import TaskManager
    from cde_server.tasks.memory_store import MemoryTaskStore

    manager = TaskManager(MemoryTaskStore())
    try:
        create_app(get_config(), task_manager=manager)
    finally:
        manager.close()


def plugins_report(include_builtin: bool = True) -> dict[str, Any]:
    """Plugins and their registered components as JSON-ready data (shared by CLI and API)."""
    host = get_plugins()
    _record_routes(host)
    plugins = [p for p in host.plugins() if include_builtin or not p.builtin]
    names = {p.name for p in plugins}
    return {
        "plugins": [
            {"name": p.name, "distribution": p.distribution, "version": p.version, "builtin": p.builtin,
             "status": p.status, "hooks": p.hooks, "error": p.error, "rejected": p.rejected,
             "commands": p.added.get("commands", []), "routes": p.added.get("routes", [])}
            for p in plugins
        ],
        "components": [
            {"kind": e.kind, "name": e.name, "plugin": e.plugin, "distribution": e.distribution,
             "version": e.version, "summary": e.summary}
            for e in host.all_registered() if e.plugin in names
        ],
    }


def plugins_command(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    builtin: Annotated[bool, typer.Option("--builtin/--no-builtin", help="include cde's own plugins")] = True,
) -> None:
    """List installed plugins and what each registers (broken plugins with their error)."""
    report = plugins_report(include_builtin=builtin)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    console = table_console()
    status = {p["name"]: p for p in report["plugins"]}
    table = Table(title="cde plugins")
    for column in ("kind", "name", "distribution", "version", "status", "summary"):
        table.add_column(column, overflow="fold")
    for comp in report["components"]:
        plugin = status[comp["plugin"]]
        table.add_row(comp["kind"], comp["name"], comp["distribution"], comp["version"], plugin["status"],
                      comp["summary"])
    for plugin in report["plugins"]:
        for kind in ("commands", "routes"):
            for name in plugin[kind]:
                table.add_row(kind[:-1], name, plugin["distribution"], plugin["version"], plugin["status"], "")
    registered = {c["plugin"] for c in report["components"]}
    for plugin in report["plugins"]:
        if plugin["error"] or (plugin["name"] not in registered and not plugin["commands"] + plugin["routes"]):
            state = "[red]broken[/]" if plugin["error"] else "ok"
            note = plugin["error"] or f"hooks: {', '.join(plugin['hooks']) or 'none'}"
            table.add_row("plugin", plugin["name"], plugin["distribution"], plugin["version"], state, note)
        for rejection in plugin["rejected"]:
            table.add_row("rejected", plugin["name"], plugin["distribution"], plugin["version"],
                          "[yellow]rejected[/]", rejection)
    console.print(table)
