"""The root Typer application: global options, shell commands, plugin commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cde_core import __version__ as core_version
from cde_core.config import use_config_file
from cde_core.plugins import get_plugins
from cde_server.cli.config_commands import config_app
from cde_server.cli.plugins_command import plugins_command


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"cde {version('cde-server')} (cde-core {core_version})")
        raise typer.Exit()


def _root(
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks and debug logs")] = False,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="config file (default: "
                                                "$CDE_CONFIG or ./cde.yaml)", dir_okay=False)] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="print versions and exit")] = False,
) -> None:
    """Crypto Data Engine: tick archives → Parquet lake → bars → features → backtests."""
    from cde_core.config import get_config
    from cde_core.logs import setup_logging

    use_config_file(config)
    setup_logging(get_config().logging if not debug else None, debug=debug, force=True)


def build_app() -> typer.Typer:
    """The full application: shell commands plus every healthy plugin's commands."""
    app = typer.Typer(name="cde", no_args_is_help=True, pretty_exceptions_enable=False,
                      context_settings={"help_option_names": ["-h", "--help"]})
    app.callback()(_root)
    app.command("plugins")(plugins_command)
    app.add_typer(config_app, name="config")
    get_plugins().call_hook("register_commands", app=app)
    return app
