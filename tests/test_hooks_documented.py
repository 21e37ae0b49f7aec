"""Meta-tests that keep the hooks honest (as datasette does): every hookspec is documented in
docs/plugins.md and exercised by at least one test."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from cde_core import hookspecs

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted(name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
               if name.startswith("register_"))


def test_hook_list_matches_architecture() -> None:
    architecture = (ROOT / "ARCHITECTURE.md").read_text()
    assert HOOKS and all(f"`{hook}(" in architecture for hook in HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_section_in_the_plugin_docs(hook: str) -> None:
    assert f"## {hook}\n" in (ROOT / "docs" / "plugins.md").read_text()


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_docstring_with_what_to_register(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(doc.split()) >= 15


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_implemented_by_an_installed_plugin(hook: str) -> None:
    from cde_core.plugins import PluginHost

    host = PluginHost()
    implementers = [impl.plugin_name for impl in getattr(host.pm.hook, hook).get_hookimpls()]
    assert implementers, f"no installed plugin implements {hook}: it is untested through a real plugin"
