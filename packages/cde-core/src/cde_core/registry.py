"""Name → implementation registries, one per kind, with attribution to the providing distribution."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cde_core.errors import NotFoundError, PluginError
from cde_core.suggest import did_you_mean

#: how an object of each kind is called in a sentence
KIND_NOUNS = {"exchanges": "exchange", "bar_builders": "bar builder", "factors": "factor",
              "signals": "signal generator", "strategies": "strategy", "engines": "engine",
              "executors": "executor", "services": "service"}


@dataclass(frozen=True)
class Registered:
    """One registered object and where it came from."""

    kind: str
    name: str
    obj: Any
    plugin: str
    distribution: str
    version: str
    builtin: bool = False

    @property
    def summary(self) -> str:
        return str(getattr(self.obj, "summary", ""))

    @property
    def owner(self) -> str:
        """``cde-features 0.1.0 (plugin features)``: who to blame or thank for this object."""
        version = f" {self.version}" if self.version else ""
        return f"{self.distribution}{version} (plugin {self.plugin})"


@dataclass(frozen=True)
class Withheld:
    """A name a broken plugin registered: not usable, but asking for it says why."""

    kind: str
    name: str
    plugin: str
    distribution: str
    reason: str

    def error(self) -> PluginError:
        noun = KIND_NOUNS.get(self.kind, self.kind)
        return PluginError(f"plugin {self.plugin} ({self.distribution}) is broken: {self.reason}",
                           hint=f"{noun} '{self.name}' comes from it; see `cde plugins`")


class Registry:
    """The registered objects of one kind.

    The first registration of a name wins; the host adds built-ins first and then third-party
    plugins by distribution name, so a newcomer can never displace a built-in (the host reports the
    rejected second registration on its plugin). Names registered by broken plugins are *withheld*:
    asking for one raises a :class:`PluginError` saying which plugin is broken and why, instead of
    a bare "not found".
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Registered] = {}
        self._folded: dict[str, Registered] = {}  # casefolded name → entry
        self._withheld: dict[str, Withheld] = {}
        self.broken_note: str = ""  # "plugin X (dist) is broken: …" for plugins whose names are unknown

    def add(self, entry: Registered) -> Registered | None:
        """Add an entry; returns the entry already holding the name, or a name that differs from it only
        in case (``VWAP_DEV`` next to ``vwap_dev``): the new one is then rejected."""
        existing = self._entries.get(entry.name) or self._folded.get(entry.name.casefold())
        if existing is not None:
            return existing
        self._entries[entry.name] = entry
        self._folded[entry.name.casefold()] = entry
        return None

    def withhold(self, withheld: Withheld) -> None:
        if withheld.name not in self._entries:
            self._withheld.setdefault(withheld.name, withheld)

    def withheld(self, name: str) -> Withheld | None:
        """Why ``name`` is not usable, when a broken plugin registered it."""
        return self._withheld.get(name)

    def withheld_names(self) -> list[str]:
        return sorted(self._withheld)

    def get(self, name: str) -> Any:
        return self.entry(name).obj

    def entry(self, name: str) -> Registered:
        try:
            return self._entries[name]
        except KeyError:
            pass
        if name in self._withheld:
            raise self._withheld[name].error() from None
        raise NotFoundError(f"no {self.kind} named '{name}'", hint=self.not_found_hint(name)) from None

    def not_found_hint(self, name: str) -> str:
        """Nearest valid names, case-insensitively (or the first names when none is near), and broken
        plugins that might provide it."""
        hint = did_you_mean(name, self._entries, what=f"installed {self.kind}") if self._entries \
            else f"no {self.kind} installed"
        if self.broken_note:
            hint += f"; {self.broken_note}; see `cde plugins`"
        return hint

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Registered]:
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Registered]:
        return iter(self.entries())

    def __len__(self) -> int:
        return len(self._entries)
