"""The plugin host: loads the ``cde`` entry-point group once, builds a registry per kind.

Each entry point is loaded on its own, so one plugin that fails to import (or implements a hook
that does not exist, or registers an object that breaks its kind's protocol) is recorded as broken
with its error while every other plugin keeps working. ``CDE_LOAD_PLUGINS`` (comma-separated entry
point or distribution names; empty = none) limits which plugins load; ``CDE_DISABLE_PLUGINS``
excludes some.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import threading
from dataclasses import dataclass, field
from typing import Any

import pluggy

from cde_core import hookspecs
from cde_core.contracts.bars import BarBuilder
from cde_core.contracts.engine import Engine
from cde_core.contracts.exchange import Exchange
from cde_core.contracts.executor import ExecutorType
from cde_core.contracts.factor import Factor
from cde_core.contracts.service import StageService
from cde_core.contracts.signal import SignalGenerator
from cde_core.contracts.strategy import Strategy
from cde_core.markers import PROJECT
from cde_core.plugin_checks import PluginCheckError, check_hook_result, check_object, describe, hook_problems
from cde_core.plugin_guard import PLUGIN_ESCAPES, plugin_code
from cde_core.registry import Registered, Registry, Withheld

ENTRY_POINT_GROUP = "cde"

#: kind → (hook name, protocol the registered objects satisfy)
KINDS: dict[str, tuple[str, type]] = {
    "exchanges": ("register_exchanges", Exchange),
    "bar_builders": ("register_bar_builders", BarBuilder),
    "factors": ("register_factors", Factor),
    "signals": ("register_signals", SignalGenerator),
    "strategies": ("register_strategies", Strategy),
    "engines": ("register_engines", Engine),
    "executors": ("register_executors", ExecutorType),
    "services": ("register_services", StageService),
}


@dataclass
class PluginInfo:
    """What ``cde plugins`` shows for one plugin.

    ``error`` set means *broken*, one definition everywhere: the plugin failed to import, has a hook
    cde cannot call, or one of its hooks raised or registered something invalid. Nothing a broken
    plugin offers is used (no object, no command, no route), and asking for one of its objects says
    why. ``rejected`` lists single contributions refused because another plugin had the name first;
    the rest of the plugin works. ``added`` records the commands and routes it contributed
    (``{"commands": [...], "routes": [...]}``).
    """

    name: str
    distribution: str
    version: str
    hooks: list[str] = field(default_factory=list)
    error: str | None = None
    builtin: bool = False
    conflicts: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    added: dict[str, list[str]] = field(default_factory=dict)
    undone: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> list[str]:
        """Registered objects (``conflicts``, found on each registry build) and commands or routes
        (``refused``, found when the CLI or API is built) that another plugin had first, and changes
        to process-wide state the host undid (``undone``, see :mod:`cde_core.plugin_guard`)."""
        return self.conflicts + self.refused + list(dict.fromkeys(self.undone))

    @property
    def status(self) -> str:
        return "broken" if self.error else "ok"

    @property
    def owner(self) -> str:
        version = f" {self.version}" if self.version else ""
        return f"{self.distribution}{version} (plugin {self.name})"

    def order_key(self) -> tuple[bool, str, str]:
        """Built-ins first, then third-party plugins by distribution name: who keeps a shared name."""
        return (not self.builtin, self.distribution, self.name)


BUILTIN_DISTRIBUTIONS = frozenset(
    {"cde-core", "cde-exchanges", "cde-bars", "cde-features", "cde-backtest", "cde-server", "cde-dask"}
)


def _dist_name(ep: md.EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else "<unknown>"


def _load_order(ep: md.EntryPoint) -> tuple[bool, str, str]:
    """Built-in distributions first, then third-party ones by name (as :meth:`PluginInfo.order_key`):
    a third-party entry point can then never take a built-in's entry point name or module."""
    dist = _dist_name(ep)
    return (dist not in BUILTIN_DISTRIBUTIONS, dist, ep.name)


def _names_from_env(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


class PluginHost:
    """A pluggy manager plus per-kind registries built from it on first use.

    All registries are built together, in one pass over the plugins in a stable order (built-ins,
    then third-party by distribution name), so whether a plugin is broken never depends on which
    registry a command happened to ask for first.
    """

    def __init__(self, *, load_entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._info: dict[str, PluginInfo] = {}
        self._registries: dict[str, Registry] = {}
        self._owners: dict[int, Registered] = {}
        self._lock = threading.RLock()
        self._building = False
        if load_entry_points:
            self._load_entry_points()

    # -- loading -------------------------------------------------------------------------------
    def _load_entry_points(self) -> None:
        only = _names_from_env("CDE_LOAD_PLUGINS")
        disabled = _names_from_env("CDE_DISABLE_PLUGINS") or set()
        for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=_load_order):
            dist = _dist_name(ep)
            version = ep.dist.version if ep.dist is not None else ""
            if only is not None and ep.name not in only and dist not in only:
                continue
            if ep.name in disabled or dist in disabled:
                continue
            builtin = dist in BUILTIN_DISTRIBUTIONS
            if ep.name in self._info:  # two distributions claim one entry point name: keep the first
                first = self._info[ep.name]
                self._info[f"{ep.name}@{dist}"] = PluginInfo(
                    ep.name, dist, version, builtin=builtin,
                    error=f"entry point name '{ep.name}' is already used by {first.owner}; rename it")
                continue
            info = PluginInfo(ep.name, dist, version, builtin=builtin)
            try:
                with plugin_code(third_party=not builtin, changes=info.undone):
                    module = ep.load()
            except PLUGIN_ESCAPES as exc:  # any import failure, even SystemExit, must not take the rest down
                info.error = f"import failed: {describe(exc)}"
                self._info[ep.name] = info
                continue
            self._register(module, ep.name, dist, version, info=info)

    def _register(self, plugin: object, name: str, distribution: str, version: str,
                  info: PluginInfo | None = None) -> None:
        info = info or PluginInfo(name, distribution, version, builtin=distribution in BUILTIN_DISTRIBUTIONS)
        self._info[name] = info
        try:
            with plugin_code(third_party=not info.builtin, changes=info.undone):
                problems = hook_problems(self.pm, plugin)  # reads the plugin's attributes
        except PLUGIN_ESCAPES as exc:
            problems = [f"its attributes cannot be read: {describe(exc)}"]
        if problems:
            info.error = "; ".join(problems)
            return
        holder = self.pm.get_name(plugin)
        if holder is not None:  # its entry point names a module another plugin already loaded
            other = self._info.get(holder)
            by = other.owner if other is not None else f"plugin {holder}"
            info.error = (f"its entry point names {getattr(plugin, '__name__', plugin)!s}, which {by} already "
                          "loaded; point the entry point to the plugin's own module")
            return
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # pluggy's own validation, should ours have missed something
            info.error = describe(exc)
            return
        info.hooks = sorted(c.name for c in self.pm.get_hookcallers(plugin) or [])

    def register(self, plugin: object, *, name: str | None = None,
                 distribution: str = "<programmatic>", version: str = "") -> str:
        """Register a plugin object (a module or any object with hookimpls) without an entry point.

        Used by tests and notebooks; returns the plugin name to pass to :meth:`unregister`.
        """
        plugin_name = name or getattr(plugin, "__name__", None) or f"plugin-{id(plugin)}"
        with self._lock:
            self._register(plugin, plugin_name, distribution, version)
            self._invalidate()
        return plugin_name

    def unregister(self, name: str) -> None:
        with self._lock:
            plugin = self.pm.get_plugin(name)
            if plugin is not None:
                self.pm.unregister(plugin)
            self._info.pop(name, None)
            self._invalidate()

    def _invalidate(self) -> None:
        self._registries.clear()
        self._owners.clear()
        for info in self._info.values():
            info.conflicts = []

    def mark_broken(self, plugin: str, reason: str) -> None:
        """Record that ``plugin`` is broken (e.g. its ``register_commands`` raised): from now on
        nothing it registered is used."""
        with self._lock:
            info = self._info.get(plugin)
            if info is not None and info.error is None:
                info.error = reason
                self._invalidate()

    def info(self, plugin: str) -> PluginInfo | None:
        return self._info.get(plugin)

    def loaded(self) -> list[PluginInfo]:
        """Every plugin seen so far, without building the registries (cheap; hook failures of
        registry hooks are not known yet — use :meth:`plugins` for the full picture)."""
        return sorted(self._info.values(), key=PluginInfo.order_key)

    # -- registries ----------------------------------------------------------------------------
    def registry(self, kind: str) -> Registry:
        with self._lock:
            self._ensure_built()
            return self._registries[kind]

    def _ensure_built(self) -> None:
        """Build the registries on first use. A register hook that reads them while they are being built
        (``get_plugins().factors`` inside ``register_factors``) gets an error, which makes that plugin
        broken; letting it recurse would exhaust the stack in every plugin's hook."""
        if self._registries:
            return
        if self._building:  # the same thread (the lock keeps others out): a hook is asking
            raise RuntimeError("cde's registries are being built; a register hook must only call register(obj), "
                               "not read the registries (get_plugins()…)")
        self._building = True
        try:
            self._build_registries()
        finally:
            self._building = False

    def _build_registries(self) -> None:
        collected: dict[str, list[tuple[str, Any]]] = {}
        ordered = sorted(self._info.values(), key=PluginInfo.order_key)
        for info in ordered:
            if self.pm.get_plugin(info.name) is not None:  # loaded, with hooks cde can call
                collected[info.name] = self._collect(info)
        registries = {kind: Registry(kind) for kind in KINDS}
        for info in ordered:
            objects = collected.get(info.name, [])
            if info.error is not None:
                for kind, obj in objects:  # say why a name is unusable instead of "not found"
                    registries[kind].withhold(Withheld(kind, str(obj.name), info.name, info.distribution,
                                                       info.error))
                continue
            for kind, obj in objects:
                entry = Registered(kind, str(obj.name), obj, info.name, info.distribution, info.version,
                                   info.builtin)
                holder = registries[kind].add(entry)
                if holder is not None:
                    same = "the name is" if holder.name == entry.name else \
                        f"the name differs only in case from '{holder.name}',"
                    info.conflicts.append(f"{kind} '{entry.name}' rejected: {same} "
                                         f"already registered by {holder.owner}")
                else:
                    self._owners[id(obj)] = entry
        broken = [i for i in ordered if i.error]
        if broken:
            note = "broken plugin(s): " + ", ".join(f"{i.name} ({i.distribution})" for i in broken)
            for registry in registries.values():
                registry.broken_note = note
        self._registries = registries

    def _collect(self, info: PluginInfo) -> list[tuple[str, Any]]:
        """Call every registry hook of one plugin; any failure marks the whole plugin broken. The
        other hooks still run, so the names the plugin offers can say why they are unusable."""
        objects: list[tuple[str, Any]] = []
        for kind, (hook_name, protocol) in KINDS.items():
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                if impl.plugin_name != info.name:
                    continue
                got: list[Any] = []
                try:
                    with plugin_code(third_party=not info.builtin, changes=info.undone):
                        check_hook_result(hook_name, impl.function(**{arg: got.append for arg in impl.argnames}))
                        for obj in got:
                            check_object(kind, protocol, obj, third_party=not info.builtin)
                except PluginCheckError as exc:
                    info.error = info.error or f"{hook_name}: {exc}"
                    continue
                except PLUGIN_ESCAPES as exc:  # the plugin's own code raised (even SystemExit)
                    info.error = info.error or f"{hook_name} raised {describe(exc)}"
                    continue
                objects += [(kind, obj) for obj in got]
        return objects

    def hookimpls(self, hook_name: str) -> list[tuple[PluginInfo, Any]]:
        """``(plugin, implementation)`` of a hook for every healthy plugin, in the stable order
        (built-ins first, then third-party by distribution name)."""
        pairs = [(self._info[impl.plugin_name], impl) for impl in getattr(self.pm.hook, hook_name).get_hookimpls()
                 if impl.plugin_name in self._info]
        return sorted([(i, impl) for i, impl in pairs if i.error is None], key=lambda p: p[0].order_key())

    def call_hook(self, hook_name: str, **kwargs: Any) -> None:
        """Call a non-registry hook (``register_commands``, ``register_routes``) on every healthy
        plugin in the stable order; a plugin that raises is marked broken and the others still run."""
        for info, impl in self.hookimpls(hook_name):
            try:
                with plugin_code(third_party=not info.builtin, changes=info.undone):
                    result = impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except PLUGIN_ESCAPES as exc:
                self.mark_broken(info.name, f"{hook_name} raised {describe(exc)}")
                continue
            if result is not None:  # e.g. a hookwrapper's generator: it did nothing
                self.mark_broken(info.name, f"{hook_name} returned a {type(result).__name__}; nothing it returns "
                                            "is used")

    def owner_of(self, obj: object) -> Registered | None:
        """The registry entry of a registered object (by identity), e.g. to name it in an error."""
        with self._lock:
            self._ensure_built()
            return self._owners.get(id(obj))

    @property
    def exchanges(self) -> Registry:
        return self.registry("exchanges")

    @property
    def bar_builders(self) -> Registry:
        return self.registry("bar_builders")

    @property
    def factors(self) -> Registry:
        return self.registry("factors")

    @property
    def signals(self) -> Registry:
        return self.registry("signals")

    @property
    def strategies(self) -> Registry:
        return self.registry("strategies")

    @property
    def engines(self) -> Registry:
        return self.registry("engines")

    @property
    def executors(self) -> Registry:
        return self.registry("executors")

    @property
    def services(self) -> Registry:
        return self.registry("services")

    def all_registered(self) -> list[Registered]:
        return [entry for kind in KINDS for entry in self.registry(kind)]

    def plugins(self) -> list[PluginInfo]:
        """Every plugin seen, healthy or broken (building the registries first, so registration
        errors show up here too)."""
        self.all_registered()
        return sorted(self._info.values(), key=lambda i: (not i.builtin, i.name))

    @property
    def broken(self) -> list[PluginInfo]:
        return [p for p in self.plugins() if p.error]


_host: PluginHost | None = None
_host_lock = threading.RLock()
_creating = False


def get_plugins() -> PluginHost:
    """The process-wide plugin host, created (and entry points loaded) on first call.

    A plugin module that calls it while it is being imported (that is, while the host is being
    created) gets an error, which makes that plugin broken; waiting for the host would hang every
    ``cde`` command for ever."""
    global _host, _creating
    with _host_lock:  # (re-entrant: only the thread creating the host can get here while it does)
        if _host is None:
            if _creating:
                raise RuntimeError("cde is still loading its plugins: a plugin module must not call get_plugins() "
                                   "while it is imported (call it in its objects' methods)")
            _creating = True
            try:
                _host = PluginHost()
            finally:
                _creating = False
        return _host


def reset_plugins(host: PluginHost | None = None) -> PluginHost | None:
    """Replace the process-wide host (tests); returns the previous one."""
    global _host
    with _host_lock:
        previous, _host = _host, host
        return previous


__all__ = ["KINDS", "PluginHost", "PluginInfo", "get_plugins", "reset_plugins"]
