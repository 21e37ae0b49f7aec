"""Plugin discovery, broken plugins, duplicate names, protocol checks."""

from __future__ import annotations

import types
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from cde_core import hookimpl
from cde_core.contracts.base import NoParams
from cde_core.errors import NotFoundError
from cde_core.plugins import PluginHost


class DummyExecutorType:
    summary = "test executor"
    Params: ClassVar[type[BaseModel]] = NoParams

    def __init__(self, name: str) -> None:
        self.name = name

    def create(self, params: BaseModel) -> Any:
        return None


def executor_plugin(name: str) -> types.SimpleNamespace:
    @hookimpl
    def register_executors(register: Any) -> None:
        register(DummyExecutorType(name))

    return types.SimpleNamespace(register_executors=register_executors)


def test_example_plugin_is_discovered_through_its_installed_entry_point() -> None:
    host = PluginHost()
    entry = host.factors.entry("example_range_position")
    assert entry.distribution == "cde-example-plugin"
    assert host.strategies.entry("example_low_range").plugin == "example"
    assert host.executors.entry("local").distribution == "cde-core"


def test_programmatic_registration_and_unregistration(host: PluginHost) -> None:
    name = host.register(executor_plugin("alpha"), name="alpha-plugin", distribution="alpha-dist")
    assert host.executors.entry("alpha").distribution == "alpha-dist"
    host.unregister(name)
    with pytest.raises(NotFoundError, match="no executors named 'alpha'"):
        host.executors.get("alpha")


def test_a_duplicate_name_keeps_the_first_and_rejects_the_second_naming_both(host: PluginHost) -> None:
    host.register(executor_plugin("same"), name="p1", distribution="dist-one")
    host.register(executor_plugin("same"), name="p2", distribution="dist-two")
    assert host.executors.entry("same").distribution == "dist-one"
    second = next(p for p in host.plugins() if p.name == "p2")
    assert second.status == "ok"
    assert second.rejected == ["executors 'same' rejected: the name is already registered by dist-one (plugin p1)"]


def test_object_breaking_its_protocol_marks_the_plugin_broken_and_keeps_others(host: PluginHost) -> None:
    class Incomplete:
        name = "incomplete"  # no summary, Params, create

    @hookimpl
    def register_executors(register: Any) -> None:
        register(Incomplete())

    host.register(types.SimpleNamespace(register_executors=register_executors), name="bad")
    host.register(executor_plugin("good"), name="good")
    assert "good" in host.executors and "incomplete" not in host.executors
    bad = next(p for p in host.plugins() if p.name == "bad")
    assert bad.status == "broken" and "lacks" in (bad.error or "")


def test_misspelled_hook_is_reported_not_silently_ignored(host: PluginHost) -> None:
    @hookimpl
    def register_factor(register: Any) -> None:  # missing "s"
        pass

    host.register(types.SimpleNamespace(register_factor=register_factor), name="typo")
    typo = next(p for p in host.plugins() if p.name == "typo")
    assert typo.error is not None and "register_factor" in typo.error


def test_plugin_raising_on_import_is_broken_and_others_still_load(
    fake_site: Any,
) -> None:
    fake_site.add("fake-broken", "fake_cde_broken", "raise RuntimeError('boom at import')\n",
                      "broken")
    fake_site.add("fake-fine", "fake_cde_fine", """
        from cde_core import hookimpl
        from cde_core.contracts.base import NoParams

        class Ex:
            name = "fine-executor"
            summary = "fine"
            Params = NoParams
            def create(self, params):
                return None

        @hookimpl
        def register_executors(register):
            register(Ex())
    """, "fine")
    host = PluginHost()
    broken = next(p for p in host.plugins() if p.name == "broken")
    assert broken.distribution == "fake-broken"
    assert broken.error == "import failed: RuntimeError: boom at import"
    assert "fine-executor" in host.executors
    assert "example_range_position" in host.factors


def test_load_plugins_env_limits_what_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDE_LOAD_PLUGINS", "core")
    host = PluginHost()
    assert [p.name for p in host.plugins()] == ["core"]
    monkeypatch.setenv("CDE_LOAD_PLUGINS", "")
    assert PluginHost().plugins() == []
    monkeypatch.delenv("CDE_LOAD_PLUGINS")
    monkeypatch.setenv("CDE_DISABLE_PLUGINS", "example")
    assert "example" not in {p.name for p in PluginHost().plugins()}


def test_call_hook_isolates_a_raising_plugin(host: PluginHost) -> None:
    calls: list[str] = []

    @hookimpl
    def register_commands(app: Any) -> None:
        raise ValueError("cannot add commands")

    @hookimpl(specname="register_commands")
    def good_commands(app: Any) -> None:
        calls.append(app)

    host.register(types.SimpleNamespace(register_commands=register_commands), name="raiser")
    host.register(types.SimpleNamespace(good_commands=good_commands), name="fine")
    host.call_hook("register_commands", app="APP")
    assert calls == ["APP"]
    raiser = next(p for p in host.plugins() if p.name == "raiser")
    assert raiser.error == "register_commands raised ValueError: cannot add commands"
