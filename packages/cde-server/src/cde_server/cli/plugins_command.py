"""`cde plugins`: what is installed, what each plugin registered, and what is broken."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from cde_core.console import table_console
from cde_core.plugins import get_plugins


def plugins_report(include_builtin: bool = True) -> dict[str, Any]:
    """Plugins and their registered components as JSON-ready data (shared by CLI and API)."""
    host = get_plugins()
    plugins = [p for p in host.plugins() if include_builtin or not p.builtin]
    names = {p.name for p in plugins}
    return {
        "plugins": [
            {"name": p.name, "distribution": p.distribution, "version": p.version, "builtin": p.builtin,
             "status": p.status, "hooks": p.hooks, "error": p.error}
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
    registered = {c["plugin"] for c in report["components"]}
    for plugin in report["plugins"]:
        if plugin["error"] or plugin["name"] not in registered:
            state = "[red]broken[/]" if plugin["error"] else "ok"
            note = plugin["error"] or f"hooks: {', '.join(plugin['hooks']) or 'none'}"
            table.add_row("plugin", plugin["name"], plugin["distribution"], plugin["version"], state, note)
    console.print(table)
