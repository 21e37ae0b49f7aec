"""Commands and routes from plugins: recorded per plugin, never overriding one another silently.

Each plugin's ``register_commands`` / ``register_routes`` runs on the real Typer / FastAPI app, in
the host's stable order (the shell's own commands and routes first, then built-in plugins, then
third-party plugins by distribution name). What a plugin added is compared with what was there
before: a command name or a ``METHOD path`` that is already taken is removed again and reported on
the plugin as refused, naming the owner; everything else it added is recorded in
``PluginInfo.added`` for ``cde plugins``. A hook that raises (anything, ``SystemExit`` included), or
that changes what was there before — removes or replaces a command or route, replaces the root
callback, adds a command Typer cannot build (which would fail every ``cde`` command) or a route OpenAPI
cannot describe (which would fail ``GET /openapi.json``), adds middleware,
exception, startup or shutdown handlers, or replaces an ``app.state`` entry — is
rolled back and marks the plugin broken: a plugin may only add. Routes a plugin inserted in front
of the existing ones move behind them, so a catch-all path cannot shadow a built-in route.
"""

from __future__ import annotations

import asyncio
from typing import Any

import typer
import typer.main
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from cde_core.plugin_checks import EscapedError, describe
from cde_core.plugin_guard import PLUGIN_ESCAPES, plugin_code
from cde_core.plugins import PluginHost, PluginInfo

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
        snapshot = _typer_state(app)
        problem = _run_hook(info, impl, app)
        if problem is None:
            problem = _typer_changes(snapshot, _typer_state(app))
        if problem is None and not info.builtin:  # (cde's own commands are built by its tests)
            problem = _unbuildable(app, commands, groups)
        if problem is not None:  # roll back whatever it did
            app.registered_commands[:], app.registered_groups[:] = commands, groups
            app.registered_callback = snapshot["callback"]
            host.mark_broken(info.name, f"register_commands {problem}")
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
        state = _fastapi_state(app)
        problem = _run_hook(info, impl, app)
        if problem is None:
            problem = _fastapi_changes(state, _fastapi_state(app))
        if problem is None and not info.builtin:  # (cde's own routes are in its OpenAPI tests)
            problem = _undocumentable([r for r in app.router.routes if not any(r is old for old in before)])
        if problem is not None:
            app.router.routes[:] = before
            _restore_fastapi(app, state)
            host.mark_broken(info.name, f"register_routes {problem}")
            continue
        # the routes it added go behind the existing ones, which match first
        app.router.routes[:] = before + [r for r in app.router.routes if not any(r is old for old in before)]
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
    for route in app.router.routes:  # built-in routes call plugin objects too (listings, schemas)
        _contain(route)
    app.openapi_schema = None  # built lazily from the final routes


def _contain(route: Any) -> None:
    """Make a ``SystemExit`` (or other non-``Exception``) that plugin code raises while a route answers
    an :class:`EscapedError`, which the API's handlers answer as that plugin's failure; raised as is, it
    would end the whole server."""
    if getattr(route, "_cde_contained", False):
        return
    handle = route.handle

    async def contained(scope: Any, receive: Any, send: Any) -> None:
        try:
            await handle(scope, receive, send)
        except (Exception, KeyboardInterrupt, GeneratorExit, asyncio.CancelledError):
            raise
        except BaseException as exc:
            raise EscapedError(exc).with_traceback(exc.__traceback__) from exc

    route.handle = contained
    route._cde_contained = True


def _run_hook(info: PluginInfo, impl: Any, app: Any) -> str | None:
    """Call one plugin's hook on ``app``; the problem (``raised …``) when it failed. A hook that returns
    something (a generator: ``hookwrapper=True``, or the commands it meant to add) added nothing."""
    try:
        with plugin_code(third_party=not info.builtin, changes=info.undone):
            result = impl.function(**{arg: app for arg in impl.argnames})
    except PLUGIN_ESCAPES as exc:
        return f"raised {describe(exc)}"
    if result is not None:
        return (f"returned a {type(result).__name__} instead of adding to the app it is given (a hook "
                "implementation is a plain function, not a hookwrapper); nothing it returns is used")
    return None


def _typer_state(app: typer.Typer) -> dict[str, Any]:
    """What a plugin must not change: each command and group there is, with its name and callback,
    and the root callback (the global options)."""
    return {"callback": app.registered_callback,
            "items": [(item, item.name, item.callback, _command_name(item)) for item in app.registered_commands]
            + [(item, item.name, item.typer_instance, _group_name(item)) for item in app.registered_groups]}


def _typer_changes(before: dict[str, Any], after: dict[str, Any]) -> str | None:
    if after["callback"] is not before["callback"]:
        return "replaced the root callback of `cde` (its global options); a plugin may only add commands"
    now = {id(item): (name, target) for item, name, target, _shown in after["items"]}
    for item, name, target, shown in before["items"]:
        if id(item) not in now or now[id(item)][0] != name or now[id(item)][1] is not target:
            return f"removed or changed the existing command '{shown}'; a plugin may only add commands"
    return None


def _unbuildable(app: typer.Typer, commands: list[Any], groups: list[Any]) -> str | None:
    """Typer turns every command into a click command when ``cde`` starts, whichever one is run: a
    plugin command it cannot build (a type hint that does not resolve, an unsupported parameter type)
    would make every ``cde`` command fail, so each new one is built here once, on its own."""
    new = [(item, "commands", _command_name) for item in app.registered_commands
           if not any(item is c for c in commands)]
    new += [(item, "groups", _group_name) for item in app.registered_groups if not any(item is g for g in groups)]
    for item, where, name_of in new:
        probe = typer.Typer()
        getattr(probe, f"registered_{where}").append(item)
        try:
            typer.main.get_command(probe)
        except Exception as exc:
            return f"added the command '{name_of(item)}', which cannot be built: {describe(exc)}"
    return None


def _undocumentable(routes: list[Any]) -> str | None:
    """``GET /openapi.json`` describes every route at once: a plugin route whose models have no JSON
    schema would make it fail for all, so the new routes are described here once, on their own."""
    from fastapi.openapi.utils import get_openapi

    try:
        get_openapi(title="probe", version="0", routes=routes)
    except Exception as exc:
        keys = [key for route in routes for key in route_keys(route)]
        return f"added route(s) {', '.join(keys[:3])} that OpenAPI cannot describe: {describe(exc)}"
    return None


def _fastapi_state(app: FastAPI) -> dict[str, Any]:
    """What a plugin must not change besides adding routes (see module doc)."""
    return {"routes": [(route, route_keys(route)) for route in app.router.routes],
            "middleware": list(app.user_middleware), "handlers": dict(app.exception_handlers),
            "startup": list(app.router.on_startup), "shutdown": list(app.router.on_shutdown),
            "overrides": dict(app.dependency_overrides), "state": dict(vars(app.state).get("_state", {}))}


def _fastapi_changes(before: dict[str, Any], after: dict[str, Any]) -> str | None:
    now = {id(route): keys for route, keys in after["routes"]}
    for route, keys in before["routes"]:  # an included router is one entry: its routes may change inside
        if now.get(id(route)) != keys:
            gone = [k for k in keys if k not in (now.get(id(route)) or [])] or keys
            return f"removed or changed the existing route(s) {', '.join(gone[:3])}; a plugin may only add routes"
    checks = (("middleware", "added middleware"), ("handlers", "changed the exception handlers"),
              ("startup", "added a startup handler"), ("shutdown", "added a shutdown handler"),
              ("overrides", "changed dependency_overrides"))
    for key, what in checks:
        if after[key] != before[key]:
            return f"{what}, which would change every route of the API; a plugin may only add routes"
    replaced = [k for k, v in before["state"].items() if after["state"].get(k, _MISSING) is not v]
    if replaced:
        return f"replaced app.state.{replaced[0]}; a plugin may only add routes"
    return None


_MISSING = object()


def _restore_fastapi(app: FastAPI, state: dict[str, Any]) -> None:
    app.user_middleware[:] = state["middleware"]
    app.exception_handlers.clear()
    app.exception_handlers.update(state["handlers"])
    app.router.on_startup[:] = state["startup"]
    app.router.on_shutdown[:] = state["shutdown"]
    app.dependency_overrides.clear()
    app.dependency_overrides.update(state["overrides"])
    vars(app.state).setdefault("_state", {}).update(state["state"])


def _forget(host: PluginHost, what: str) -> None:
    """Drop what an earlier app build recorded (tests and ``cde plugins`` build apps repeatedly)."""
    for info in host.loaded():
        info.refused = [r for r in info.refused if not r.startswith(f"{what} '")]
        info.added.pop(f"{what}s", None)
