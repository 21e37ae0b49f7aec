"""Blame the right package: a failure inside a third-party plugin's code names the object and its
distribution, and is never reported as an internal error of cde.

:func:`plugin_fault` reads an exception's traceback from the innermost frame outwards: a frame whose
``self`` is a registered third-party object (a factor's ``compute``, a strategy's
``target_weights``…) names that object; otherwise a frame in a third-party plugin's files names the
plugin, and a registered third-party object held by a caller's frame (the calculator's ``factor``)
names the object. The CLI, the API's error handler and the task manager use it before falling back
to "internal error". Stage code that calls plugin objects can also raise :func:`fault_of_object`
itself (e.g. for a wrong output shape), which works even where tracebacks are lost (process pools).
"""

from __future__ import annotations

import os
import sys
import traceback
from types import FrameType
from typing import TYPE_CHECKING

from cde_core.errors import PluginError
from cde_core.plugin_checks import describe
from cde_core.registry import KIND_NOUNS

if TYPE_CHECKING:
    from cde_core.plugins import PluginHost, PluginInfo
    from cde_core.registry import Registered



class PluginFault(PluginError):
    """Code of a third-party plugin failed; the message names the object and its distribution."""

    title = "plugin failure"
    http_status = 500


def _hint(plugin: str, distribution: str) -> str:
    return (f"a fault of the plugin {distribution}, not of cde: report it to its authors, or disable it "
            f"with CDE_DISABLE_PLUGINS={plugin} (--debug shows the traceback)")


def fault_of_object(entry: Registered, problem: str) -> PluginFault:
    """``factor 'hurst' from cde-hurst 0.1.0 (plugin hurst) <problem>``."""
    noun = KIND_NOUNS.get(entry.kind, entry.kind)
    return PluginFault(f"{noun} '{entry.name}' from {entry.owner} {problem}",
                       hint=_hint(entry.plugin, entry.distribution))


def owner_entry(kind: str, obj: object, host: PluginHost | None = None) -> Registered | None:
    """The registry entry of ``obj``: by identity, else by its name (a copy in a worker process)."""
    from cde_core.plugins import get_plugins

    host = host or get_plugins()
    entry = host.owner_of(obj)
    if entry is None:
        registry = host.registry(kind)
        name = getattr(obj, "name", None)
        if isinstance(name, str) and name in registry:
            entry = registry.entry(name)
    return entry


def plugin_fault(exc: BaseException, host: PluginHost | None = None) -> PluginFault | None:
    """A :class:`PluginFault` when ``exc`` was raised by (or because of) third-party plugin code."""
    from cde_core.plugins import get_plugins

    if isinstance(exc, PluginFault):
        return exc
    host = host or get_plugins()
    frames = [frame for frame, _line in traceback.walk_tb(exc.__traceback__)][::-1]  # innermost first
    if not frames:
        return None
    roots = _third_party_roots(host)
    in_plugin = next((info for frame in frames if (info := _plugin_of_file(frame, roots)) is not None), None)
    entry = next((e for frame in frames if (e := _third_party_self(frame, host)) is not None), None)
    if entry is None and in_plugin is None:
        entry = next((e for frame in frames if (e := _third_party_local(frame, host)) is not None), None)
    if entry is not None:
        return fault_of_object(entry, f"failed: {describe(exc)}")
    if in_plugin is not None:
        return PluginFault(f"plugin {in_plugin.name} ({in_plugin.distribution}) failed: {describe(exc)}",
                           hint=_hint(in_plugin.name, in_plugin.distribution))
    return None


def import_fault(exc: BaseException, where: str) -> PluginFault | None:
    """A :class:`PluginFault` when ``exc`` was raised by importing a third-party plugin's module (where
    the plugin is not loaded, so its files are unknown: e.g. unpickling a job on a Dask worker). The
    module comes from the error (``No module named 'x'``) or the frames it passed through."""
    import importlib.metadata as md

    from cde_core.plugins import BUILTIN_DISTRIBUTIONS, ENTRY_POINT_GROUP

    tops = {exc.name.split(".")[0]} if isinstance(exc, ImportError) and exc.name else set()
    for frame, _line in traceback.walk_tb(exc.__traceback__):
        module = frame.f_globals.get("__name__")
        if isinstance(module, str):
            tops.add(module.split(".")[0])
    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else "<unknown>"
        if dist not in BUILTIN_DISTRIBUTIONS and ep.module.split(".")[0] in tops:
            return PluginFault(f"plugin {ep.name} ({dist}) cannot be imported {where}: {describe(exc)}",
                               hint=f"install what it needs there, or disable it with CDE_DISABLE_PLUGINS={ep.name}")
    return None


def _third_party_roots(host: PluginHost) -> list[tuple[str, PluginInfo]]:
    """(file or package folder, plugin) of every loaded third-party plugin module."""
    host.plugins()  # the registries are built: every plugin's module is imported
    return third_party_roots(host)


def third_party_roots(host: PluginHost) -> list[tuple[str, PluginInfo]]:
    """(file or package folder, plugin) of every third-party plugin module loaded so far."""
    roots: list[tuple[str, PluginInfo]] = []
    for info in host.loaded():
        if info.builtin or host.info(info.name) is not info:  # (a second entry point of a taken name loads nothing)
            continue
        plugin = host.pm.get_plugin(info.name)
        module_name = getattr(plugin, "__name__", None)
        if not isinstance(module_name, str):
            continue
        top = sys.modules.get(module_name.split(".")[0])
        path = getattr(top, "__file__", None)
        if path:
            path = os.path.dirname(path) if os.path.basename(path) == "__init__.py" else path
            roots.append((os.path.abspath(path), info))
    return roots


def _plugin_of_file(frame: FrameType, roots: list[tuple[str, PluginInfo]]) -> PluginInfo | None:
    filename = os.path.abspath(frame.f_code.co_filename)
    for root, info in roots:
        if filename == root or filename.startswith(root + os.sep):
            return info
    return None


def _third_party_self(frame: FrameType, host: PluginHost) -> Registered | None:
    entry = host.owner_of(frame.f_locals.get("self"))
    return entry if entry is not None and not entry.builtin else None


def _third_party_local(frame: FrameType, host: PluginHost) -> Registered | None:
    for value in list(frame.f_locals.values()):
        entry = host.owner_of(value)
        if entry is not None and not entry.builtin:
            return entry
    return None
