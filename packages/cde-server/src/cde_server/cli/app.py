"""The root Typer application: global options, shell commands, plugin commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cde_core import __version__ as core_version
from cde_core.config import use_config_file
from cde_core.errors import PluginError
from cde_core.plugins import KINDS, get_plugins
from cde_server.cli.config_commands import config_app
from cde_server.cli.plugins_command import plugins_command
from cde_server.contributions import COMMAND_OWNERS, add_plugin_commands
from cde_server.stage_commands import missing_stage_error


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


REGISTRY_HOOKS = frozenset(hook for hook, _protocol in KINDS.values())


class _RootGroup(TyperGroup):
    """The ``cde`` group: a command of a broken plugin says so instead of running (or of "no such
    command"), with the one definition of broken of :class:`cde_core.plugins.PluginHost`."""

    def resolve_command(self, ctx: typer.Context, args: list[str]) -> tuple[Any, Any, list[str]]:
        host = get_plugins()
        if args and not args[0].startswith("-") and self.get_command(ctx, args[0]) is None:
            missing = missing_stage_error(args[0])
            if missing is not None:  # a stage command of a distribution this install lacks
                raise missing
            broken = [p for p in host.loaded() if p.error]
            if broken:  # it may be one of theirs: say so instead of a bare "no such command"
                note = "; ".join(f"plugin {p.name} ({p.distribution}) is broken: {p.error}" for p in broken)
                raise PluginError(f"no command '{args[0]}'; {note}", hint="see `cde plugins` and `cde --help`")
        name, command, rest = super().resolve_command(ctx, args)
        info = host.info(COMMAND_OWNERS.get(name or "", ""))
        # a plugin's registry hooks decide whether it is broken; one without any (the server's) cannot
        # break there, so its commands start without building the registries
        if info is not None and set(info.hooks) & REGISTRY_HOOKS:
            host.plugins()
        if info is not None and info.error:
            raise PluginError(f"plugin {info.name} ({info.distribution}) is broken: {info.error}",
                              hint=f"`cde {name}` comes from it; see `cde plugins`")
        return name, command, rest


def build_app() -> typer.Typer:
    """The full application: shell commands plus every healthy plugin's commands."""
    app = typer.Typer(name="cde", cls=_RootGroup, no_args_is_help=True, pretty_exceptions_enable=False,
                      context_settings={"help_option_names": ["-h", "--help"]})
    app.callback()(_root)
    app.command("plugins")(plugins_command)
    app.add_typer(config_app, name="config")
    add_plugin_commands(app, get_plugins())
    return app
