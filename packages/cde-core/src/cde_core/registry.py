"""Name → implementation registries, one per kind, with attribution to the providing distribution."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cde_core.errors import NotFoundError, PluginError
from cde_core.suggest import did_you_mean


@dataclass(frozen=True)
class Registered:
    """One registered object and where it came from."""

    kind: str
    name: str
    obj: Any
    plugin: str
    distribution: str
    version: str

    @property
    def summary(self) -> str:
        return str(getattr(self.obj, "summary", ""))


class Registry:
    """The registered objects of one kind.

    Two registrations with the same name are a conflict: the name stays listed, and asking for it
    raises a :class:`PluginError` naming both distributions, so a user sees which packages clash
    instead of silently getting one of them.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Registered] = {}
        self._conflicts: dict[str, list[Registered]] = {}

    def add(self, entry: Registered) -> str | None:
        """Add an entry; returns a conflict message when the name is already taken."""
        existing = self._entries.get(entry.name)
        if existing is None:
            self._entries[entry.name] = entry
            return None
        self._conflicts.setdefault(entry.name, [existing]).append(entry)
        return self.conflict_message(entry.name)

    def conflict_message(self, name: str) -> str:
        clashing = self._conflicts[name]
        who = " and ".join(f"{e.distribution} (plugin {e.plugin})" for e in clashing)
        return f"{self.kind} name '{name}' is registered twice, by {who}"

    def get(self, name: str) -> Any:
        return self.entry(name).obj

    def entry(self, name: str) -> Registered:
        if name in self._conflicts:
            raise PluginError(self.conflict_message(name), hint="uninstall or disable one of them "
                              "(CDE_DISABLE_PLUGINS=<entry point name>)")
        try:
            return self._entries[name]
        except KeyError:
            hint = did_you_mean(name, self._entries, what=f"installed {self.kind}") if self._entries \
                else f"no {self.kind} installed"
            raise NotFoundError(f"no {self.kind} named '{name}'", hint=hint) from None

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
