"""`cde config init|show`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cde_core.atomic import atomic_write_bytes
from cde_core.config import DEFAULT_CONFIG_FILE, describe, get_loaded_config, template
from cde_core.console import table_console
from cde_core.errors import ConfigError

config_app = typer.Typer(help="write the config template or show the effective config", no_args_is_help=True)


@config_app.command("init")
def config_init(
    path: Annotated[Path, typer.Argument(help="where to write the template")] = Path(DEFAULT_CONFIG_FILE),
    force: Annotated[bool, typer.Option("--force", help="overwrite an existing file")] = False,
) -> None:
    """Write a commented template of every setting with its default."""
    if path.exists() and not force:
        raise ConfigError("config file already exists", where=str(path), hint="pass --force to overwrite it")
    atomic_write_bytes(path, template().encode())
    typer.echo(f"wrote {path}")


@config_app.command("show")
def config_show(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Print the effective config and where each value came from."""
    loaded = get_loaded_config()
    rows = describe(loaded)
    if as_json:
        values = [{"key": k, "value": v, "origin": o} for k, v, o in rows]
        file = str(loaded.file) if loaded.file else None
        typer.echo(json.dumps({"file": file, "values": values}, indent=2))
        return
    table = Table(title=f"effective config (file: {loaded.file or 'none'})")
    for column in ("key", "value", "origin"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    table_console().print(table)
