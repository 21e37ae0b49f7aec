"""What makes a plugin broken, checked when it loads and when its objects are registered.

Each check returns (or raises with) one line a plugin author can act on: which hook, which object,
what is wrong and how to fix it. pluggy alone would accept a class where an instance is expected, a
hook that returns a list, or an undecorated ``register_factors`` function, and report a wrong
argument name with a message cut to its first line; these checks say what happened instead.
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any

import pluggy
from pydantic import BaseModel


class PluginCheckError(Exception):
    """A plugin or one of its objects breaks the contract; the message is the reason shown to users."""


def hook_problems(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    """Problems with a plugin's hook implementations, found before pluggy registers it: unknown
    (misspelled) hooks, arguments the hookspec does not have, and hook-named functions that lack
    ``@hookimpl`` (pluggy would silently never call them)."""
    specs = {name: caller for name, caller in vars(pm.hook).items()
             if isinstance(caller, pluggy.HookCaller) and caller.spec is not None}
    problems: list[str] = []
    for attr in sorted(dir(plugin)):
        if attr.startswith("_"):
            continue
        try:
            value = getattr(plugin, attr)
        except Exception:  # a property that raises is not a hook
            continue
        opts = pm.parse_hookimpl_opts(plugin, attr)
        if opts is None:
            if attr in specs and callable(value) and not isinstance(value, type):
                problems.append(f"{attr} is not marked with @hookimpl, so cde never calls it "
                                "(decorate it with `@cde_core.hookimpl`)")
            continue
        hook = opts.get("specname") or attr
        if hook not in specs:
            close = difflib.get_close_matches(hook, list(specs), n=1)
            guess = f" (did you mean {close[0]}?)" if close else " (misspelled?)"
            problems.append(f"implements unknown hook {hook}{guess}")
            continue
        expected = list(specs[hook].spec.argnames)  # type: ignore[union-attr]
        try:
            given = [p for p in inspect.signature(value).parameters if p != "self"]
        except (TypeError, ValueError):
            continue
        unknown = [arg for arg in given if arg not in expected]
        if unknown:
            problems.append(f"{hook}({', '.join(given)}): argument(s) {', '.join(unknown)} are not passed "
                            f"by cde; the hook is {hook}({', '.join(expected)})")
    return problems


def check_hook_result(hook: str, result: Any) -> None:
    """A ``register_<kind>`` hook hands objects to ``register``; a returned value would be lost."""
    if result is not None:
        raise PluginCheckError(f"{hook} returned a {type(result).__name__} instead of calling register(obj) "
                               "for each object; nothing it returns is used")


def check_object(kind: str, protocol: type, obj: object, *, third_party: bool = True) -> None:
    """``obj`` satisfies its kind's protocol: an instance with a non-empty string ``name``, a
    ``summary``, a pydantic ``Params`` class and every method of the protocol. A third party's
    ``Params`` must also have a JSON schema: every listing (``cde plugins``, ``GET /features/factors``,
    the OpenAPI document) shows it, and one that cannot be built would take the whole listing down
    (cde's own are proved by their tests, and not rebuilt on every start)."""
    label = f"{kind} object {type(obj).__name__}"
    if isinstance(obj, type):
        raise PluginCheckError(f"registered the class {obj.__name__} as {kind} instead of an instance: "
                               f"call register({obj.__name__}())")
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not name.strip():
        raise PluginCheckError(f"{label} has no name (a non-empty string `name` is required)")
    odd = name_problem(name)
    if odd:
        raise PluginCheckError(f"{label} has the name {name!r}, which {odd}")
    label = f"{kind} '{name}' ({type(obj).__name__})"
    missing = [attr for attr in protocol_members(protocol) if not hasattr(obj, attr)]
    if missing:
        raise PluginCheckError(f"{label} lacks {', '.join(missing)}")
    params = getattr(obj, "Params", None)
    if not (isinstance(params, type) and issubclass(params, BaseModel)):
        raise PluginCheckError(f"{label}: Params must be a pydantic BaseModel class, got {params!r}")
    if third_party:
        try:
            params.model_json_schema()
        except Exception as exc:
            raise PluginCheckError(f"{label}: Params {params.__name__} has no JSON schema ({describe(exc)}); "
                                   "use field types pydantic can describe") from exc
    not_callable = [m for m in protocol_methods(protocol) if not callable(getattr(obj, m))]
    if not_callable:
        raise PluginCheckError(f"{label}: {', '.join(not_callable)} must be method(s)")
    inputs = getattr(obj, "inputs", ())
    if kind == "factors" and (isinstance(inputs, str) or not all(isinstance(c, str) for c in inputs)):
        raise PluginCheckError(f"{label}: inputs must be a tuple of column names, got {inputs!r}")


def name_problem(name: str) -> str | None:
    """Why a registered name is unusable: names are typed on command lines, shown in listings and
    become parts of lake paths and column names, so a name padded with spaces (" vwap_dev" next to
    the built-in ``vwap_dev``), holding a control character or a path separator is refused."""
    if name != name.strip():
        return "starts or ends with whitespace"
    if not name.isprintable():
        return "holds a control character"
    if any(sep in name for sep in ("/", "\\")) or name in (".", ".."):
        return "holds a path separator"
    return None


def protocol_members(protocol: type) -> list[str]:
    """Attributes and methods a protocol declares (its own and its bases')."""
    members: set[str] = set()
    for klass in protocol.__mro__:
        if klass is object:
            continue
        members.update(n for n in getattr(klass, "__annotations__", {}) if not n.startswith("_"))
        members.update(protocol_methods(klass))
    return sorted(members)


def protocol_methods(protocol: type) -> list[str]:
    return sorted({n for klass in protocol.__mro__ if klass is not object
                   for n, v in vars(klass).items() if callable(v) and not n.startswith("_")
                   and not isinstance(v, type)})


class EscapedError(RuntimeError):
    """A ``BaseException`` that is no ``Exception`` (``SystemExit``, a plugin's own subclass) raised by
    plugin code at run time, carried as an ``Exception`` so the error handlers of the API treat it as
    any other failure of that plugin instead of letting it end the server. :func:`describe` shows the
    original."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


def describe(exc: BaseException) -> str:
    """``Type: first line`` of an exception (or the whole message when it is one line already)."""
    if isinstance(exc, EscapedError):
        exc = exc.original
    text = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not text:
        return type(exc).__name__
    return f"{type(exc).__name__}: {'; '.join(text[:3])}"
