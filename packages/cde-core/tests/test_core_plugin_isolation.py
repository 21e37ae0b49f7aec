"""A wrong third-party plugin is named, isolated, and never takes the built-ins down.

Every test installs throwaway distributions (a module plus a ``.dist-info`` with an entry point in
the ``cde`` group) on ``sys.path`` and builds a real :class:`PluginHost`, so discovery goes through
``importlib.metadata`` entry-point loading exactly as for a pip-installed plugin.
"""

from __future__ import annotations

from typing import Any

import pytest

from cde_core.errors import NotFoundError, PluginError
from cde_core.plugins import KINDS, PluginHost

#: a built-in name of every kind, and the built-in distribution that owns it
BUILTIN_NAMES = {
    "exchanges": ("binance", "cde-exchanges"),
    "bar_builders": ("tick", "cde-bars"),
    "factors": ("vwap_dev", "cde-features"),
    "signals": ("factor", "cde-backtest"),
    "strategies": ("momentum_ls", "cde-backtest"),
    "engines": ("cross_sectional", "cde-backtest"),
    "executors": ("local", "cde-core"),
    "services": ("bars.aggregate", "cde-bars"),
}

#: the hook of each kind, spelt out (the throwaway plugins below implement every one of them)
HOOKS = {"exchanges": "register_exchanges", "bar_builders": "register_bar_builders",
         "factors": "register_factors", "signals": "register_signals", "strategies": "register_strategies",
         "engines": "register_engines", "executors": "register_executors", "services": "register_services"}


def test_the_hook_table_is_the_hosts() -> None:
    assert {kind: hook for kind, (hook, _protocol) in KINDS.items()} == HOOKS


#: a minimal object of each kind (class source), parametrised by its name
OBJECT_SOURCE = '''
from cde_core.contracts.base import NoParams

class Obj_{ident}:
    name = {name!r}
    summary = "throwaway {kind}"
    group = "test"
    inputs = ("close",)
    cross_sectional = False
    engine = "cross_sectional"
    markets = ("spot",)
    Params = NoParams
    def lookback(self, params): return 0
    def columns(self, params): return [self.name]
    def compute(self, bars, params): return bars[["close"]].rename(columns={{"close": self.name}})
    def spec_id(self, params): return self.name
    def new_state(self, params): return None
    def update(self, state, trades): return None
    def flush(self, state): return None
    def generate(self, features, params): return None
    def target_weights(self, panel, params): return None
    def run(self, panel, weights, params): return None
    def create(self, params): return None
    def download(self, request, **context): return None
'''


def plugin_source(objects: dict[str, list[str]]) -> str:
    """A plugin module registering objects named ``objects[kind]`` for each kind."""
    lines = ["from cde_core import hookimpl"]
    for kind, names in objects.items():
        for i, name in enumerate(names):
            lines.append(OBJECT_SOURCE.format(ident=f"{kind}_{i}", name=name, kind=kind))
        hook = HOOKS[kind]
        calls = "".join(f"\n    register(Obj_{kind}_{i}())" for i in range(len(names)))
        lines.append(f"\n@hookimpl\ndef {hook}(register):{calls}\n")
    return "\n".join(lines)


def plugin_info(host: PluginHost, name: str) -> Any:
    return next(p for p in host.plugins() if p.name == name)


def builtins_healthy(host: PluginHost) -> None:
    builtin = [p for p in host.plugins() if p.builtin]
    assert builtin and all(p.status == "ok" and not p.rejected for p in builtin), \
        [(p.name, p.error, p.rejected) for p in builtin]


# -- 1. name collisions ------------------------------------------------------------------------------
def test_a_plugin_reusing_a_builtin_name_of_every_kind_is_rejected_and_nothing_else_changes(fake_site: Any) -> None:
    before = PluginHost()
    counts = {kind: len(before.registry(kind)) for kind in KINDS}
    objects = {kind: [name, f"aaa_own_{kind}"] for kind, (name, _dist) in BUILTIN_NAMES.items()}
    # "aaa-…" sorts before every "cde-…": built-ins must win by being built-in, not by their name
    fake_site.add("aaa-squatter", "fake_cde_squatter", plugin_source(objects), "squatter")
    host = PluginHost()
    builtins_healthy(host)
    squatter = plugin_info(host, "squatter")
    assert squatter.status == "ok"
    for kind, (name, dist) in BUILTIN_NAMES.items():
        assert host.registry(kind).entry(name).distribution == dist, kind
        assert host.registry(kind).entry(f"aaa_own_{kind}").distribution == "aaa-squatter", kind
        assert len(host.registry(kind)) == counts[kind] + 1, kind
        message = next(r for r in squatter.rejected if r.startswith(f"{kind} '{name}'"))
        assert dist in message and "rejected" in message, message
    assert len(squatter.rejected) == len(KINDS)


def test_between_third_party_plugins_the_distribution_name_decides_not_the_load_order(fake_site: Any) -> None:
    # the entry point names sort the other way round from the distribution names
    fake_site.add("zzz-late", "fake_cde_late", plugin_source({"factors": ["shared_factor"]}), "a_loaded_first")
    fake_site.add("mmm-early", "fake_cde_early", plugin_source({"factors": ["shared_factor"]}), "z_loaded_last")
    host = PluginHost()
    assert host.factors.entry("shared_factor").distribution == "mmm-early"
    late = plugin_info(host, "a_loaded_first")
    assert late.status == "ok"
    assert late.rejected == ["factors 'shared_factor' rejected: the name is already registered by "
                             "mmm-early 0.0.1 (plugin z_loaded_last)"]
    assert plugin_info(host, "z_loaded_last").rejected == []
    builtins_healthy(host)


# -- 2. invalid registrations are broken-plugin entries with the reason ---------------------------
BAD_PLUGINS = {
    "class instead of instance": ('''
        from cde_core import hookimpl
        from cde_core.contracts.base import NoParams

        class Hurst:
            name = "hurst"
            summary = "s"
            group = "g"
            inputs = ("close",)
            cross_sectional = False
            Params = NoParams
            def lookback(self, params): return 0
            def columns(self, params): return ["hurst"]
            def compute(self, bars, params): return bars

        @hookimpl
        def register_factors(register):
            register(Hurst)
    ''', "registered the class Hurst as factors instead of an instance: call register(Hurst())"),
    "hook returns a list": ('''
        from cde_core import hookimpl

        @hookimpl
        def register_factors(register):
            return [object()]
    ''', "register_factors returned a list instead of calling register(obj)"),
    "wrong argument name": ('''
        from cde_core import hookimpl

        @hookimpl
        def register_factors(reg):
            pass
    ''', "register_factors(reg): argument(s) reg are not passed by cde; the hook is register_factors(register)"),
    "misspelt hook": ('''
        from cde_core import hookimpl

        @hookimpl
        def register_factor(register):
            pass
    ''', "implements unknown hook register_factor (did you mean register_factors?)"),
    "hook without @hookimpl": ('''
        def register_factors(register):
            pass
    ''', "register_factors is not marked with @hookimpl"),
    "hook raises": ('''
        from cde_core import hookimpl

        @hookimpl
        def register_factors(register):
            raise ZeroDivisionError("division by zero")
    ''', "register_factors raised ZeroDivisionError: division by zero"),
    "import fails": ("import not_a_module_anywhere\n", "import failed: ModuleNotFoundError"),
}


@pytest.mark.parametrize("case", sorted(BAD_PLUGINS))
def test_an_invalid_plugin_is_a_broken_entry_with_the_reason(fake_site: Any, case: str) -> None:
    source, reason = BAD_PLUGINS[case]
    fake_site.add("cde-bad", "fake_cde_bad", source, "bad")
    host = PluginHost()
    bad = plugin_info(host, "bad")
    assert bad.status == "broken" and bad.distribution == "cde-bad"
    assert reason in (bad.error or ""), bad.error
    builtins_healthy(host)
    assert "ret_log" in host.factors and "example_range_position" in host.factors


# -- 6. one definition of broken, whichever registry is asked first --------------------------------
HALF_BROKEN = '''
from cde_core import hookimpl
from cde_core.contracts.base import NoParams

class Strat:
    name = "half_strategy"
    summary = "s"
    engine = "cross_sectional"
    Params = NoParams
    def target_weights(self, panel, params): return None

@hookimpl
def register_strategies(register):
    register(Strat())

@hookimpl
def register_factors(register):
    raise RuntimeError("factor table missing")
'''


@pytest.mark.parametrize("first", ["strategies", "factors", "plugins"])
def test_a_plugin_with_one_broken_hook_offers_nothing_whatever_is_asked_first(fake_site: Any, first: str) -> None:
    fake_site.add("cde-half", "fake_cde_half", HALF_BROKEN, "half")
    host = PluginHost()
    if first == "plugins":
        host.plugins()
    else:
        host.registry(first)
    with pytest.raises(PluginError) as info:
        host.strategies.get("half_strategy")
    assert str(info.value) == ("plugin half (cde-half) is broken: register_factors raised RuntimeError: factor "
                               "table missing — strategy 'half_strategy' comes from it; see `cde plugins`")
    assert plugin_info(host, "half").status == "broken"


def test_a_missing_name_mentions_broken_plugins_and_the_nearest_names(fake_site: Any) -> None:
    fake_site.add("cde-gone", "fake_cde_gone", "raise ImportError('needs libfoo')\n", "gone")
    host = PluginHost()
    with pytest.raises(NotFoundError) as info:
        host.factors.get("ret_lgo")
    message = str(info.value)
    assert "did you mean ret_log" in message
    assert "broken plugin(s): gone (cde-gone)" in message and "see `cde plugins`" in message


def test_registration_marks_broken_later_and_rebuilds(fake_site: Any) -> None:
    fake_site.add("cde-late-fail", "fake_cde_latefail", plugin_source({"factors": ["late_factor"]}), "latefail")
    host = PluginHost()
    assert "late_factor" in host.factors
    host.mark_broken("latefail", "register_commands raised ValueError: nope")
    assert "late_factor" not in host.factors
    with pytest.raises(PluginError, match="is broken: register_commands raised ValueError: nope"):
        host.factors.get("late_factor")
