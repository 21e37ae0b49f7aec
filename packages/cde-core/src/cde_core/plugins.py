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
from cde_core.registry import Registered, Registry

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
    """What ``cde plugins`` shows for one plugin."""

    name: str
    distribution: str
    version: str
    hooks: list[str] = field(default_factory=list)
    error: str | None = None
    builtin: bool = False

    @property
    def status(self) -> str:
        return "broken" if self.error else "ok"


BUILTIN_DISTRIBUTIONS = frozenset(
    {"cde-core", "cde-exchanges", "cde-bars", "cde-features", "cde-backtest", "cde-server", "cde-dask"}
)


def _names_from_env(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


class PluginHost:
    """A pluggy manager plus per-kind registries built from it on first use."""

    def __init__(self, *, load_entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._info: dict[str, PluginInfo] = {}
        self._registries: dict[str, Registry] = {}
        self._lock = threading.RLock()
        if load_entry_points:
            self._load_entry_points()

    # -- loading -------------------------------------------------------------------------------
    def _load_entry_points(self) -> None:
        only = _names_from_env("CDE_LOAD_PLUGINS")
        disabled = _names_from_env("CDE_DISABLE_PLUGINS") or set()
        for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist is not None else "<unknown>"
            version = ep.dist.version if ep.dist is not None else ""
            if only is not None and ep.name not in only and dist not in only:
                continue
            if ep.name in disabled or dist in disabled:
                continue
            try:
                module = ep.load()
            except Exception as exc:  # any import failure must not take the other plugins down
                self._info[ep.name] = PluginInfo(ep.name, dist, version, error=_describe(exc),
                                                 builtin=dist in BUILTIN_DISTRIBUTIONS)
                continue
            self._register(module, ep.name, dist, version)

    def _register(self, plugin: object, name: str, distribution: str, version: str) -> None:
        info = PluginInfo(name, distribution, version, builtin=distribution in BUILTIN_DISTRIBUTIONS)
        self._info[name] = info
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # pluggy validates hook signatures here
            info.error = _describe(exc)
            return
        callers = self.pm.get_hookcallers(plugin) or []
        unknown = [c.name for c in callers if c.spec is None]
        if unknown:
            self.pm.unregister(plugin)
            info.error = f"implements unknown hook(s) {', '.join(unknown)} (misspelled?)"
            return
        info.hooks = sorted(c.name for c in callers)

    def register(self, plugin: object, *, name: str | None = None,
                 distribution: str = "<programmatic>", version: str = "") -> str:
        """Register a plugin object (a module or any object with hookimpls) without an entry point.

        Used by tests and notebooks; returns the plugin name to pass to :meth:`unregister`.
        """
        plugin_name = name or getattr(plugin, "__name__", None) or f"plugin-{id(plugin)}"
        with self._lock:
            self._register(plugin, plugin_name, distribution, version)
            self._registries.clear()
        return plugin_name

    def unregister(self, name: str) -> None:
        with self._lock:
            plugin = self.pm.get_plugin(name)
            if plugin is not None:
                self.pm.unregister(plugin)
            self._info.pop(name, None)
            self._registries.clear()

    # -- registries ----------------------------------------------------------------------------
    def registry(self, kind: str) -> Registry:
        with self._lock:
            if kind not in self._registries:
                self._registries[kind] = self._build_registry(kind)
            return self._registries[kind]

    def _build_registry(self, kind: str) -> Registry:
        hook_name, protocol = KINDS[kind]
        registry = Registry(kind)
        caller = getattr(self.pm.hook, hook_name)
        # call each implementation separately so every object is attributed to its plugin
        for impl in reversed(caller.get_hookimpls()):
            info = self._info.get(impl.plugin_name)
            if info is None or info.error:
                continue
            collected: list[Any] = []
            try:
                impl.function(**{arg: collected.append for arg in impl.argnames})
                for obj in collected:
                    _check_protocol(kind, protocol, obj)
            except Exception as exc:
                info.error = f"{hook_name} failed: {_describe(exc)}"
                continue
            for obj in collected:
                conflict = registry.add(Registered(kind, str(obj.name), obj, impl.plugin_name,
                                                   info.distribution, info.version))
                if conflict:
                    info.error = conflict
        return registry

    def call_hook(self, hook_name: str, **kwargs: Any) -> None:
        """Call a non-registry hook (``register_commands``, ``register_routes``) on every healthy
        plugin; a plugin that raises is marked broken and the others still run."""
        caller = getattr(self.pm.hook, hook_name)
        for impl in reversed(caller.get_hookimpls()):
            info = self._info.get(impl.plugin_name)
            if info is None or info.error:
                continue
            try:
                impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except Exception as exc:
                info.error = f"{hook_name} failed: {_describe(exc)}"

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


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _check_protocol(kind: str, protocol: type, obj: object) -> None:
    missing = [attr for attr in _protocol_members(protocol) if not hasattr(obj, attr)]
    if missing:
        raise TypeError(f"{type(obj).__name__} registered as {kind} lacks {', '.join(missing)}")


def _protocol_members(protocol: type) -> list[str]:
    members: set[str] = set()
    for klass in protocol.__mro__:
        if klass is object:
            continue
        members.update(getattr(klass, "__annotations__", {}))
        members.update(n for n, v in vars(klass).items() if callable(v) and not n.startswith("_"))
    return sorted(members)


_host: PluginHost | None = None
_host_lock = threading.Lock()


def get_plugins() -> PluginHost:
    """The process-wide plugin host, created (and entry points loaded) on first call."""
    global _host
    with _host_lock:
        if _host is None:
            _host = PluginHost()
        return _host


def reset_plugins(host: PluginHost | None = None) -> PluginHost | None:
    """Replace the process-wide host (tests); returns the previous one."""
    global _host
    with _host_lock:
        previous, _host = _host, host
        return previous


__all__ = ["KINDS", "PluginHost", "PluginInfo", "get_plugins", "reset_plugins"]
