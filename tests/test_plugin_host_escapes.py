"""A third-party plugin that escapes the usual ways of failing can still not break or hide a built-in.

issue 15 covered plugins that raise ``Exception``s, clash on a registered name or register invalid
objects. These are the other ways out, each met by a throwaway distribution installed into a folder
on PYTHONPATH (real entry points, discovered by ``importlib.metadata``) and the real ``cde`` or API:

- it raises ``SystemExit`` or another ``BaseException`` at import, in a registry hook or in
  ``register_commands`` (before: every ``cde`` command ended silently with the plugin's exit code);
- it takes a built-in's entry point name, or points its entry point at a built-in's module (before:
  the built-in was the one called broken, or its 121 factors were attributed to the newcomer);
- it prints (before: ``cde plugins --json`` and every other ``--json`` output was not JSON);
- its ``register_commands`` / ``register_routes`` removes or replaces what was there (before:
  ``cde features`` and ``GET /health`` vanished, a catch-all route answered ``GET /plugins``);
- it changes process-wide state at import (before: ``CDE_DATA_ROOT`` set by a plugin moved the lake);
- it adds a command Typer cannot build or a route OpenAPI cannot describe (before: every ``cde``
  command, or ``GET /openapi.json``, failed), or a ``Params`` without a JSON schema (before: the
  factor listing answered 500), or reads the registries from a register hook (before: every plugin,
  built-ins included, broken by a RecursionError);
- it registers a case variant or space-padded copy of a built-in's name, or a factor declaring a
  built-in's column (before: accepted, or the plugin's factor silently dropped).

Run-time failures of a plugin's objects are in ``test_plugin_runtime_faults.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from cde_core.testing import install_fake_distribution

BUILTIN = {"cde-core", "cde-exchanges", "cde-bars", "cde-features", "cde-backtest", "cde-server", "cde-dask"}

CHATTY = '''
import pandas as pd
from cde_core import hookimpl
from cde_core.contracts.base import NoParams

print("chatty: imported")


class Seven:
    name = "chatty_seven"
    group = "chatty"
    summary = "seven"
    inputs = ("close",)
    cross_sectional = False
    Params = NoParams
    def lookback(self, params):
        print("chatty: lookback")
        return 0

    def columns(self, params):
        print("chatty: columns")
        return ["chatty_seven"]

    def compute(self, bars, params):
        print("chatty: computing")
        return pd.DataFrame({"chatty_seven": bars["close"] * 0 + 7.0}, index=bars.index)


@hookimpl
def register_factors(register):
    print("chatty: registering")
    register(Seven())


@hookimpl
def register_commands(app):
    print("chatty: adding a command")

    @app.command("chatty-hello")
    def hello():
        print("chatty says hello")
'''

ESCAPES = {  # distribution → (module source, entry point name, the error `cde plugins` must show)
    "cde-exit-import": ("raise SystemExit(3)\n", "exit_import", "import failed: SystemExit: 3"),
    "cde-base-import": ("class Boom(BaseException):\n    pass\nraise Boom('at import')\n", "base_import",
                        "import failed: Boom: at import"),
    "cde-interrupt-import": ("raise KeyboardInterrupt('at import')\n", "interrupt_import",
                             "import failed: KeyboardInterrupt: at import"),
    "cde-exit-hook": ("from cde_core import hookimpl\n@hookimpl\ndef register_factors(register):\n"
                      "    raise SystemExit(4)\n", "exit_hook", "register_factors raised SystemExit: 4"),
    "cde-exit-command": ("from cde_core import hookimpl\n@hookimpl\ndef register_commands(app):\n"
                         "    raise SystemExit(5)\n", "exit_command", "register_commands raised SystemExit: 5"),
    "cde-hide-commands": ("from cde_core import hookimpl\n@hookimpl\ndef register_commands(app):\n"
                          "    app.registered_groups[:] = [g for g in app.registered_groups if g.name != 'features']\n",
                          "hide_commands", "register_commands removed or changed the existing command 'features'; "
                          "a plugin may only add commands"),
    "cde-root-callback": ("from cde_core import hookimpl\n@hookimpl\ndef register_commands(app):\n"
                          "    app.callback()(lambda: None)\n", "root_callback",
                          "register_commands replaced the root callback of `cde` (its global options); a plugin "
                          "may only add commands"),
    "cde-wrapper": ("from cde_core import hookimpl\n@hookimpl(hookwrapper=True)\ndef register_commands(app):\n"
                    "    app.command('wrapped')(print)\n    yield\n", "wrapper",
                    "register_commands returned a generator instead of adding to the app it is given (a hook "
                    "implementation is a plain function, not a hookwrapper); nothing it returns is used"),
    "cde-early-host": ("from cde_core.plugins import get_plugins\nget_plugins()\n", "early_host",
                       "import failed: RuntimeError: cde is still loading its plugins: a plugin module must not call "
                       "get_plugins() while it is imported (call it in its objects' methods)"),  # before: hung
    "cde-aaa-twin": ("", "features", "entry point name 'features' is already used by cde-features 0.1.0 (plugin "
                     "features); rename it"),
    "cde-aaa-alias": ("", "aaa_alias", "its entry point names cde_features.plugin, which cde-features 0.1.0 "
                      "(plugin features) already loaded; point the entry point to the plugin's own module"),
}


@pytest.fixture
def escapes_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    for dist, (source, entry, _error) in ESCAPES.items():
        target = "cde_features.plugin" if dist == "cde-aaa-alias" else None
        install_fake_distribution(site, dist, dist.replace("-", "_"), source, entry, target=target)
    install_fake_distribution(site, "cde-chatty", "cde_chatty", CHATTY, "chatty")
    return site


def plugins_report(run_cde: Any, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = run_cde("plugins", "--json", env=env)
    assert result.returncode == 0, (result.returncode, result.stdout[-300:], result.stderr[-1000:])
    report: dict[str, Any] = json.loads(result.stdout)  # nothing a plugin printed is on stdout
    return report


def test_escaping_plugins_are_broken_named_and_leave_the_builtins_whole(run_cde, escapes_site: Path) -> None:  # type: ignore[no-untyped-def]
    report = plugins_report(run_cde, {"PYTHONPATH": str(escapes_site)})
    plain = plugins_report(run_cde, {"CDE_DISABLE_PLUGINS": "example"})
    errors = {p["distribution"]: p["error"] for p in report["plugins"] if not p["builtin"]}
    for dist, (_source, _entry, error) in ESCAPES.items():
        assert errors[dist] == error, dist
    assert errors["cde-chatty"] is None
    builtins = [p for p in report["plugins"] if p["distribution"] in BUILTIN]
    assert {p["name"] for p in builtins} == {p["name"] for p in plain["plugins"] if p["distribution"] in BUILTIN}
    assert all(p["status"] == "ok" and not p["rejected"] for p in builtins), builtins

    def builtin_components(r: dict[str, Any]) -> set[tuple[str, str, str]]:
        return {(c["kind"], c["name"], c["distribution"]) for c in r["components"]
                if c["distribution"] in BUILTIN or c["name"] in {"vwap_dev", "time", "binance"}}

    assert builtin_components(report) == builtin_components(plain)  # every built-in, owned by its own


def test_builtin_commands_survive_escaping_plugins(run_cde, escapes_site: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"PYTHONPATH": str(escapes_site)}
    listed = run_cde("--debug", "features", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr[-1000:]
    names = json.dumps(json.loads(listed.stdout))  # JSON, though a plugin printed while loading and listing
    assert "chatty: columns" in listed.stderr
    assert "vwap_dev" in names and "chatty_seven" in names
    hello = run_cde("chatty-hello", env=env)
    assert hello.returncode == 0 and hello.stdout.strip() == "chatty says hello", hello.stderr
    assert "chatty: adding a command" in hello.stderr
    hidden = run_cde("exit-command-cmd", env=env)
    assert hidden.returncode == 1
    assert "plugin exit_command (cde-exit-command) is broken: register_commands raised SystemExit: 5" in hidden.stderr


STATE_CHANGER = '''
import os
import warnings

import numpy as np

np.seterr(all="raise")
warnings.simplefilter("error")
os.environ["CDE_DATA_ROOT"] = os.environ["ELSEWHERE"]
'''


def test_process_state_a_plugin_changes_is_restored_and_reported(run_cde, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from cde_core.testing import write_bars_lake

    lake = write_bars_lake(tmp_path / "lake", "time-1h", ["AAAUSDT", "BBBUSDT"], 24 * 5)
    site = install_fake_distribution(tmp_path / "site", "cde-state", "cde_state", STATE_CHANGER, "state")
    elsewhere = tmp_path / "elsewhere"
    env = {"PYTHONPATH": str(site), "ELSEWHERE": str(elsewhere)}

    def ret_log() -> Any:
        (folder,) = (lake / "features").glob("spec=*__time-1h")
        return pq.read_table(sorted(folder.rglob("part-0.parquet"))[0]).replace_schema_metadata(None)

    alone = run_cde("features", "compute", "--bars", "time-1h", "-f", "ret_log")
    assert alone.returncode == 0, alone.stderr
    expected = ret_log()
    done = run_cde("features", "compute", "--bars", "time-1h", "-f", "ret_log", env=env)
    assert done.returncode == 0, done.stderr  # written into the lake the user chose, not the plugin
    assert not elsewhere.exists()
    assert ret_log().to_pandas().equals(expected.to_pandas())  # the same built-in values
    state = next(p for p in plugins_report(run_cde, env)["plugins"] if p["name"] == "state")
    assert state["status"] == "ok"
    assert state["rejected"] == ["numpy error handling (numpy.seterr) change undone",
                                 "warnings filter 'error' undone", "environment variable CDE_DATA_ROOT change undone"]


ROUTE_MISCHIEF = {  # module → (register_routes body, how the error GET /plugins shows begins, or None if ok)
    "remove_health": ("    app.router.routes[:] = [r for r in app.router.routes\n"
                      "                            if 'GET /health' not in route_keys(r)]\n",
                      "register_routes removed or changed the existing route(s) GET /health; a plugin may only "
                      "add routes"),
    "handler": ("    app.add_exception_handler(Exception, lambda request, exc: None)\n",
                "register_routes changed the exception handlers, which would change every route of the API; "
                "a plugin may only add routes"),
    "middleware": ("    app.add_middleware(BaseHTTPMiddleware, dispatch=lambda request, call_next: None)\n",
                   "register_routes added middleware, which would change every route of the API; a plugin "
                   "may only add routes"),
    "state": ("    app.state.tasks = None\n", "register_routes replaced app.state.tasks; a plugin may only add routes"),
    "undocumentable": ("    from pydantic import BaseModel, ConfigDict\n\n"
                       "    class Opaque:\n        pass\n\n"
                       "    class Out(BaseModel):\n"
                       "        model_config = ConfigDict(arbitrary_types_allowed=True)\n"
                       "        thing: Opaque | None = None\n\n"
                       "    app.get('/opaque', response_model=Out)(lambda: Out())\n",
                       "register_routes added route(s) GET /opaque that OpenAPI cannot describe: "
                       "PydanticInvalidForJsonSchema: Cannot generate a JsonSchema"),
    "catch_all": ("    router = APIRouter()\n"
                  "    router.get('/{anything}')(lambda anything: {'caught': anything})\n"
                  "    app.include_router(router)\n"
                  "    app.router.routes.insert(0, app.router.routes.pop())\n", None),
}


@pytest.fixture
def mischief_api(tmp_path: Path, plugin_app: Any) -> Iterator[Any]:
    """The real app with every ROUTE_MISCHIEF plugin installed."""
    from cde_core.testing import write_bars_lake

    site = tmp_path / "site"
    for module, (body, _error) in ROUTE_MISCHIEF.items():
        source = ("from fastapi import APIRouter\nfrom starlette.middleware.base import BaseHTTPMiddleware\n"
                  "from cde_core import hookimpl\nfrom cde_server.contributions import route_keys\n\n"
                  f"@hookimpl\ndef register_routes(app):\n{body}")
        install_fake_distribution(site, f"cde-{module.replace('_', '-')}", f"cde_routes_{module}", source, module)
    with plugin_app(site, write_bars_lake(tmp_path / "lake", "time-1h", ["AAAUSDT"], 24)) as client:
        yield client


def test_a_plugin_cannot_remove_replace_or_shadow_builtin_routes(mischief_api: Any) -> None:
    assert mischief_api.get("/health").json()["status"] == "ok"
    listing = mischief_api.get("/plugins")
    assert listing.status_code == 200 and "caught" not in listing.json()
    errors = {p["name"]: p["error"] for p in listing.json()["plugins"]}
    for module, (_body, error) in ROUTE_MISCHIEF.items():
        assert errors[module] is None if error is None else errors[module].startswith(error), (module, errors[module])
    assert mischief_api.get("/openapi.json").status_code == 200  # before: 500 for everyone
    assert mischief_api.get("/no-such-thing").json() == {"caught": "no-such-thing"}  # added, behind the rest
    missing = mischief_api.get("/tasks/nope")  # app.state.tasks is the server's own
    assert missing.status_code == 404 and missing.json()["title"] == "not found"


NAMED = '''
import pandas as pd
from cde_core import hookimpl
from cde_core.contracts.base import NoParams


class Named:
    group = "named"
    summary = "a factor with a given name and columns"
    inputs = ("close",)
    cross_sectional = False
    Params = NoParams

    def __init__(self, name, columns=None):
        self.name, self._columns = name, columns or [name.strip()]

    def lookback(self, params): return 0
    def columns(self, params): return list(self._columns)

    def compute(self, bars, params):
        return pd.DataFrame({{c: bars["close"] * 0 + 99.0 for c in self._columns}}, index=bars.index)


class Strategy:
    summary = "a strategy with a given name"
    engine = "cross_sectional"
    Params = NoParams

    def __init__(self, name):
        self.name = name

    def target_weights(self, panel, params):
        return panel["close"] * 0.0


@hookimpl
def register_factors(register):
    register(Named({factor!r}, {columns!r}))


@hookimpl
def register_strategies(register):
    register(Strategy({strategy!r}))
'''


def named_plugin(site: Path, dist: str, factor: str, strategy: str, columns: list[str] | None = None) -> None:
    module = dist.replace("-", "_")
    install_fake_distribution(site, dist, module, NAMED.format(factor=factor, columns=columns, strategy=strategy),
                              module)


def test_names_that_differ_from_a_builtin_only_in_case_or_spaces_are_refused(tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from cde_core.plugins import PluginHost

    site = tmp_path / "site"
    named_plugin(site, "cde-upper", "VWAP_DEV", "Momentum_LS")
    named_plugin(site, "cde-padded", " vwap_dev", "padded_strategy")
    named_plugin(site, "cde-slashed", "ok_factor", "up/../down")
    named_plugin(site, "cde-control", "tab\there", "control_strategy")
    monkeypatch.syspath_prepend(str(site))
    host = PluginHost()
    info = {p.distribution: p for p in host.plugins()}
    assert info["cde-upper"].error is None
    assert info["cde-upper"].rejected == [
        "factors 'VWAP_DEV' rejected: the name differs only in case from 'vwap_dev', already registered by "
        "cde-features 0.1.0 (plugin features)",
        "strategies 'Momentum_LS' rejected: the name differs only in case from 'momentum_ls', already registered "
        "by cde-backtest 0.1.0 (plugin backtest)"]
    assert info["cde-padded"].error == ("register_factors: factors object Named has the name ' vwap_dev', which "
                                        "starts or ends with whitespace")
    assert info["cde-slashed"].error == ("register_strategies: strategies object Strategy has the name "
                                         "'up/../down', which holds a path separator")
    assert info["cde-control"].error == ("register_factors: factors object Named has the name 'tab\\there', "
                                         "which holds a control character")
    assert host.factors.entry("vwap_dev").distribution == "cde-features"
    assert "VWAP_DEV" not in host.factors and "Momentum_LS" not in host.strategies


def test_a_plugin_factor_declaring_a_builtin_column_is_never_silently_swapped(run_cde, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from cde_core.testing import write_bars_lake

    lake = write_bars_lake(tmp_path / "lake", "time-1h", ["AAAUSDT"], 48)
    site = tmp_path / "site"
    named_plugin(site, "cde-aaa-clash", "aaa_clash", "clash_strategy", columns=["ret_log_1"])
    env = {"PYTHONPATH": str(site)}
    both = run_cde("features", "compute", "--bars", "time-1h", "-f", "ret_log", "-f", "aaa_clash", env=env)
    assert both.returncode == 1  # before: exit 0, the plugin's factor silently left out
    assert ("factor 'aaa_clash' from cde-aaa-clash would produce column(s) ret_log_1 twice (already produced by "
            "factor 'ret_log' from cde-features)") in both.stderr
    assert not (lake / "features").exists()
    column = run_cde("features", "compute", "--bars", "time-1h", "-f", "ret_log_1", env=env)
    assert column.returncode == 0, column.stderr  # the column selector takes the built-in producer
    (part,) = (lake / "features").rglob("part-0.parquet")
    values = pq.read_table(part).column("ret_log_1").to_pylist()
    assert 99.0 not in values and values[-1] != 0.0


NO_SCHEMA = '''
import pandas as pd
from pydantic import BaseModel, ConfigDict
from cde_core import hookimpl


class Opaque:
    """a type pydantic can check but cannot describe in a JSON schema"""


class OpaqueParams(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    thing: Opaque = Opaque()


class Factor:
    name = "opaque_factor"
    group = "opaque"
    summary = "params without a JSON schema"
    inputs = ("close",)
    cross_sectional = False
    Params = OpaqueParams
    def lookback(self, params): return 0
    def columns(self, params): return ["opaque_factor"]
    def compute(self, bars, params): return pd.DataFrame({"opaque_factor": bars["close"]}, index=bars.index)


class Strategy:
    name = "opaque_strategy"
    summary = "params without a JSON schema"
    engine = "cross_sectional"
    Params = OpaqueParams
    def target_weights(self, panel, params): return panel["close"] * 0.0


@hookimpl
def register_factors(register):
    register(Factor())


@hookimpl
def register_strategies(register):
    register(Strategy())
'''


def test_params_without_a_json_schema_break_the_plugin_not_the_listings(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from cde_core.config import CdeConfig
    from cde_core.plugins import PluginHost, reset_plugins
    from cde_server.api.app import create_app

    site = install_fake_distribution(tmp_path / "site", "cde-opaque", "cde_opaque", NO_SCHEMA, "opaque")
    monkeypatch.syspath_prepend(str(site))
    previous = reset_plugins(PluginHost())
    try:
        with TestClient(create_app(CdeConfig(data_root=tmp_path)), raise_server_exceptions=False) as client:
            for path, builtin in (("/features/factors", "vwap_dev"), ("/backtest/strategies", "momentum_ls")):
                listing = client.get(path)  # before: 500 "internal error", the built-ins' listing gone
                assert listing.status_code == 200, listing.text
                assert builtin in {item["name"] for item in listing.json()}
            assert client.get("/openapi.json").status_code == 200
            opaque = next(p for p in client.get("/plugins").json()["plugins"] if p["name"] == "opaque")
            assert opaque["error"].startswith("register_factors: factors 'opaque_factor' (Factor): Params "
                                              "OpaqueParams has no JSON schema (PydanticInvalidForJsonSchema")
    finally:
        reset_plugins(previous)


def test_a_register_hook_reading_the_registries_breaks_only_its_plugin(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from cde_core.plugins import PluginHost, reset_plugins

    source = ("from cde_core import hookimpl\nfrom cde_core.plugins import get_plugins\n\n@hookimpl\n"
              "def register_factors(register):\n    get_plugins().factors.get('vwap_dev')\n")
    site = install_fake_distribution(tmp_path / "site", "cde-reader", "cde_reader", source, "reader")
    monkeypatch.syspath_prepend(str(site))
    host = PluginHost()
    previous = reset_plugins(host)
    try:
        broken = {p.name: p.error for p in host.plugins() if p.error}  # before: every plugin, by RecursionError
        assert broken == {"reader": "register_factors raised RuntimeError: cde's registries are being built; a "
                                    "register hook must only call register(obj), not read the registries "
                                    "(get_plugins()…)"}
        assert host.factors.entry("vwap_dev").distribution == "cde-features"
    finally:
        reset_plugins(previous)


UNBUILDABLE = '''
from __future__ import annotations

import typer
from cde_core import hookimpl

sub = typer.Typer()


@sub.command("go")
def go(x: UndefinedThing) -> None:
    print(x)


@hookimpl
def register_commands(app):
    app.add_typer(sub, name="undef")
'''


def test_a_plugin_command_typer_cannot_build_breaks_only_its_plugin(run_cde, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site = install_fake_distribution(tmp_path / "site", "cde-undef", "cde_undef", UNBUILDABLE, "undef")
    env = {"PYTHONPATH": str(site)}
    builtin = run_cde("config", "show", env=env)  # before: every command said "internal error: NameError"
    assert builtin.returncode == 0, builtin.stderr
    ours = run_cde("undef", "go", "1", env=env)
    assert ours.returncode == 1
    assert ("plugin undef (cde-undef) is broken: register_commands added the command 'undef', which cannot be "
            "built: NameError: name 'UndefinedThing' is not defined") in ours.stderr
