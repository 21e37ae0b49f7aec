"""Commands and routes from plugins: recorded per plugin, never overriding one another silently.

Each plugin's ``register_commands`` / ``register_routes`` runs on the real Typer / FastAPI app, in
the host's stable order (the shell's own commands and routes first, then built-in plugins, then
third-party plugins by distribution name). What a plugin added is compared with what was there
before: a command name or a ``METHOD path`` that is already taken is removed again and reported on
the plugin as refused, naming the owner; everything else it added is recorded in
``PluginInfo.added`` for ``cde plugins``. A hook that raises is rolled back and marks the plugin
broken.
"""

from __future__ import annotations

from typing import Any

import typer
import typer.main
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from cde_core.plugin_checks import describe
from cde_core.plugins import PluginHost

#: who owns the commands and routes the shell itself defines
SHELL_OWNER = "the cde shell (cde-server)"

#: top-level command name → plugin that added it (last built app; used to refuse broken plugins' commands)
COMMAND_OWNERS: dict[str, str] = {}


def command_names(app: typer.Typer) -> list[str]:
    """Top-level command and group names of a Typer app, in registration order."""
    names = [_command_name(info) for info in app.registered_commands]
    return names + [_group_name(info) for info in app.registered_groups]


def _command_name(info: Any) -> str:
    if info.name:
        return str(info.name)
    callback = info.callback
    return typer.main.get_command_name(getattr(callback, "__name__", "?"))


def _group_name(info: Any) -> str:
    solved = typer.main.solve_typer_info_defaults(info)
    if isinstance(solved.name, str) and solved.name:
        return solved.name
    callback = solved.callback or getattr(getattr(info.typer_instance, "registered_callback", None), "callback", None)
    return typer.main.get_command_name(getattr(callback, "__name__", "?"))


def add_plugin_commands(app: typer.Typer, host: PluginHost) -> None:
    """Run every healthy plugin's ``register_commands`` on ``app`` (see module doc)."""
    owners = dict.fromkeys(command_names(app), SHELL_OWNER)
    COMMAND_OWNERS.clear()
    _forget(host, "command")
    for info, impl in host.hookimpls("register_commands"):
        commands, groups = list(app.registered_commands), list(app.registered_groups)
        try:
            impl.function(**{arg: app for arg in impl.argnames})
        except Exception as exc:  # roll back whatever it added before failing
            app.registered_commands[:], app.registered_groups[:] = commands, groups
            host.mark_broken(info.name, f"register_commands raised {describe(exc)}")
            continue
        added: list[str] = []
        for registered, before, name_of in ((app.registered_commands, commands, _command_name),
                                            (app.registered_groups, groups, _group_name)):
            new = [item for item in registered if not any(item is old for old in before)]
            for item in new:
                name = name_of(item)
                if name in owners:
                    registered.remove(item)
                    info.refused.append(f"command '{name}' refused: already added by {owners[name]}")
                    continue
                owners[name] = info.owner
                COMMAND_OWNERS[name] = info.name
                added.append(name)
        info.added["commands"] = added


def route_keys(route: Any) -> list[str]:
    """``METHOD path`` of each endpoint behind a route entry (an included router holds many; HEAD is
    implied by GET), or just the path for mounts and websockets."""
    keys: list[str] = []
    for context in iter_route_contexts([route]):
        methods = set(getattr(context, "methods", None) or ())
        if "GET" in methods:
            methods.discard("HEAD")
        path = str(getattr(context, "path", "") or "?")
        keys += [f"{method} {path}" for method in sorted(methods)] or [path]
    return keys


def add_plugin_routes(app: FastAPI, host: PluginHost) -> None:
    """Run every healthy plugin's ``register_routes`` on ``app`` (see module doc).

    The registries are built first, so a plugin that is broken in any hook adds no route."""
    host.plugins()
    owners = {key: SHELL_OWNER for route in app.router.routes for key in route_keys(route)}
    _forget(host, "route")
    for info, impl in host.hookimpls("register_routes"):
        before = list(app.router.routes)
        try:
            impl.function(**{arg: app for arg in impl.argnames})
        except Exception as exc:
            app.router.routes[:] = before
            host.mark_broken(info.name, f"register_routes raised {describe(exc)}")
            continue
        added: list[str] = []
        for route in [r for r in app.router.routes if not any(r is old for old in before)]:
            keys = route_keys(route)
            taken = [k for k in keys if k in owners]
            if taken:  # an included router is one entry: refused whole, saying so
                app.router.routes.remove(route)
                rest = f" (with the {len(keys) - 1} other route(s) of its router)" if len(keys) > 1 else ""
                info.refused += [f"route '{k}' refused{rest}: already added by {owners[k]}" for k in taken]
                continue
            owners.update(dict.fromkeys(keys, info.owner))
            added += keys
        info.added["routes"] = added
    app.openapi_schema = None  # built lazily from the final routes


def _forget(host: PluginHost, what: str) -> None:
    """Drop what an earlier app build recorded (tests and ``cde plugins`` build apps repeatedly)."""
    for info in host.loaded():
        info.refused = [r for r in info.refused if not r.startswith(f"{what} '")]
        info.added.pop(f"{what}s", None)
