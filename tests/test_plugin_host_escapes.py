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
- it changes process-wide state at import (before: ``CDE_DATA_ROOT`` set by a plugin moved the lake).
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
def mischief_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The real app with every ROUTE_MISCHIEF plugin installed."""
    from fastapi.testclient import TestClient

    from cde_core.config import CdeConfig
    from cde_core.plugins import PluginHost, reset_plugins
    from cde_core.testing import write_bars_lake
    from cde_server.api.app import create_app

    site = tmp_path / "site"
    for module, (body, _error) in ROUTE_MISCHIEF.items():
        source = ("from fastapi import APIRouter\nfrom starlette.middleware.base import BaseHTTPMiddleware\n"
                  "from cde_core import hookimpl\nfrom cde_server.contributions import route_keys\n\n"
                  f"@hookimpl\ndef register_routes(app):\n{body}")
        install_fake_distribution(site, f"cde-{module.replace('_', '-')}", f"cde_routes_{module}", source, module)
    lake = write_bars_lake(tmp_path / "lake", "time-1h", ["AAAUSDT"], 24)
    monkeypatch.syspath_prepend(str(site))
    previous = reset_plugins(PluginHost())
    try:
        with TestClient(create_app(CdeConfig(data_root=lake)), raise_server_exceptions=False) as client:
            yield client
    finally:
        reset_plugins(previous)


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


RUNTIME_ESCAPES = '''
import sys

import pandas as pd
from cde_core import hookimpl
from cde_core.contracts.base import NoParams


class Boom(BaseException):
    pass


class Escaping:
    group = "escaping"
    summary = "leaves through a BaseException"
    inputs = ("close",)
    cross_sectional = False
    Params = NoParams

    def __init__(self, name, escape):
        self.name, self.escape = name, escape

    def lookback(self, params): return 0
    def columns(self, params): return [self.name]

    def compute(self, bars, params):
        self.escape()
        return pd.DataFrame({self.name: bars["close"]}, index=bars.index)


def leave():
    sys.exit(0)


def boom():
    raise Boom("its own BaseException")


@hookimpl
def register_factors(register):
    register(Escaping("exiting", leave))
    register(Escaping("booming", boom))


@hookimpl
def register_routes(app):
    app.get("/escaping/exit")(leave)
    app.get("/escaping/boom")(boom)
'''

ESCAPED = {"exiting": "SystemExit: 0", "booming": "Boom: its own BaseException"}


@pytest.fixture
def runtime_site(tmp_path: Path) -> Path:
    return install_fake_distribution(tmp_path / "site", "cde-escaping", "cde_escaping", RUNTIME_ESCAPES, "escaping")


@pytest.mark.parametrize("factor", sorted(ESCAPED))
def test_a_factor_leaving_through_a_base_exception_fails_the_command_naming_it(  # type: ignore[no-untyped-def]
        run_cde, runtime_site: Path, tmp_path: Path, factor: str) -> None:
    from cde_core.testing import write_bars_lake

    lake = write_bars_lake(tmp_path / "lake", "time-1h", ["AAAUSDT"], 48)
    result = run_cde("features", "compute", "--bars", "time-1h", "-f", factor, env={"PYTHONPATH": str(runtime_site)})
    assert result.returncode == 1, result.stderr  # before: exit 0 and nothing written (sys.exit(0)), or a traceback
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert (f"factor '{factor}' from cde-escaping 0.0.1 (plugin escaping) failed: {ESCAPED[factor]}") in lines[0]
    assert not (lake / "features").exists()


@pytest.fixture
def escaping_api(runtime_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from cde_core.config import CdeConfig
    from cde_core.plugins import PluginHost, reset_plugins
    from cde_core.testing import write_bars_lake
    from cde_server.api.app import create_app

    lake = write_bars_lake(tmp_path / "lake", "time-1h", ["AAAUSDT"], 48)
    monkeypatch.syspath_prepend(str(runtime_site))
    previous = reset_plugins(PluginHost())
    try:
        with TestClient(create_app(CdeConfig(data_root=lake)), raise_server_exceptions=False) as client:
            yield client
    finally:
        reset_plugins(previous)


def test_the_api_answers_a_base_exception_of_a_plugin_as_its_failure(escaping_api: Any) -> None:
    import time

    for path, escaped in (("/escaping/exit", "SystemExit: 0"), ("/escaping/boom", "Boom: its own BaseException")):
        answer = escaping_api.get(path)  # before: the exception ended the app's event loop
        assert answer.status_code == 500 and answer.json()["title"] == "plugin failure"
        assert answer.json()["detail"] == f"plugin escaping (cde-escaping) failed: {escaped}"
    assert escaping_api.get("/health").json()["status"] == "ok"
    for factor, escaped in ESCAPED.items():
        task = escaping_api.post("/features/compute", json={"bars": "time-1h", "factors": [factor]})
        assert task.status_code == 202, task.text
        for _ in range(1200):  # before: the task read "running" for ever
            state: dict[str, Any] = escaping_api.get(f"/tasks/{task.json()['id']}").json()
            if state["status"] not in ("queued", "running"):
                break
            time.sleep(0.05)
        assert state["status"] == "failed", state
        assert state["error"].startswith(f"factor '{factor}' from cde-escaping 0.0.1 (plugin escaping) failed: "
                                         f"{escaped}")


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


WORKER_ONLY = '''
import multiprocessing

import pandas as pd
from cde_core import hookimpl
from cde_core.contracts.base import NoParams

if multiprocessing.parent_process() is not None:  # a Dask worker of the LocalCluster, not the client
    raise ImportError("libworker is not installed on this machine")


class Factor:
    name = "worker_factor"
    group = "worker"
    summary = "imports on the client only"
    inputs = ("close",)
    cross_sectional = False
    Params = NoParams
    def lookback(self, params): return 0
    def columns(self, params): return ["worker_factor"]
    def compute(self, bars, params): return pd.DataFrame({"worker_factor": bars["close"]}, index=bars.index)


@hookimpl
def register_factors(register):
    register(Factor())
'''


def test_a_plugin_that_does_not_import_on_the_dask_workers_is_named(run_cde, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from cde_core.testing import write_bars_lake

    write_bars_lake(tmp_path / "lake", "time-1h", ["AAAUSDT"], 48)
    site = install_fake_distribution(tmp_path / "site", "cde-worker-only", "cde_worker_only", WORKER_ONLY, "worker")
    result = run_cde("features", "compute", "--bars", "time-1h", "-f", "worker_factor", "-f", "ret_log",
                     env={"PYTHONPATH": str(site), "CDE_EXECUTOR": "dask", "CDE_EXECUTOR__MAX_WORKERS": "1"})
    assert result.returncode == 1  # before: "the Dask cluster has had no worker for 60 s", blaming the cluster
    assert ("error: plugin worker (cde-worker-only) cannot be imported on the Dask worker on "
            in result.stderr), result.stderr[-2000:]
    assert "ImportError: libworker is not installed on this machine" in result.stderr
    assert "CDE_DISABLE_PLUGINS=worker" in result.stderr and "no worker" not in result.stderr


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


SPEC_IDS = '''
from cde_core import hookimpl
from cde_core.contracts.base import NoParams
from cde_core.schemas import BARS_SCHEMA


class Bars:
    summary = "names its lake folder itself"
    Params = NoParams

    def __init__(self, name, spec):
        self.name, self.spec = name, spec

    def spec_id(self, params): return self.spec
    def new_state(self, params): return {}
    def update(self, state, trades): return BARS_SCHEMA.empty_table()
    def flush(self, state): return BARS_SCHEMA.empty_table()


@hookimpl
def register_bar_builders(register):
    register(Bars("climbing_bars", "../../escaped"))
    register(Bars("none_bars", None))
'''


@pytest.mark.parametrize(("bar", "spec"), [("climbing_bars", "'../../escaped'"), ("none_bars", "None")])
def test_a_bar_spec_id_that_cannot_name_a_folder_blames_the_builder(run_cde, tmp_path: Path, bar: str,  # type: ignore[no-untyped-def]
                                                                    spec: str) -> None:
    from datetime import date

    from cde_core.lake import Lake, Provenance
    from cde_core.testing import synthetic_trades

    lake = Lake(tmp_path / "lake")
    trades = synthetic_trades(200, start="2024-01-01", seconds=86_000)
    lake.write_partition(lake.trades_dir("binance", "spot", "AAAUSDT", date(2024, 1, 1)), trades,
                         Provenance(source="test", rows=trades.num_rows, first_trade_id=1,
                                    last_trade_id=trades.num_rows))
    site = install_fake_distribution(tmp_path / "site", "cde-spec-ids", "cde_spec_ids", SPEC_IDS, "spec_ids")
    result = run_cde("aggregate", "--bar", bar, "--exchange", "binance", "--market", "spot", "--symbols", "AAAUSDT",
                     "--start", "2024-01-01", "--end", "2024-01-01", env={"PYTHONPATH": str(site)})
    assert result.returncode == 1  # before: "invalid bar spec '../../escaped'" as the user's mistake, or spec=None
    assert (f"error: bar builder '{bar}' from cde-spec-ids 0.0.1 (plugin spec_ids) returned the spec id {spec} "
            "from spec_id, which cannot name a lake folder") in result.stderr, result.stderr
    assert not (tmp_path / "lake" / "bars").exists()


STRATEGIES = '''
import pandas as pd
from cde_core import hookimpl
from cde_core.contracts.base import NoParams


class Ghost:
    name = "ghost_engine"
    summary = "runs on an engine nobody installed"
    engine = "warp_drive"
    Params = NoParams
    def target_weights(self, panel, params): return panel["close"] * 0.0


class Listed:
    name = "listed_weights"
    summary = "returns a list"
    engine = "cross_sectional"
    Params = NoParams
    def target_weights(self, panel, params): return [0.5, 0.5]


class Flat:
    name = "flat_weights"
    summary = "returns weights on a plain index"
    engine = "cross_sectional"
    Params = NoParams
    def target_weights(self, panel, params): return pd.Series(0.0, index=range(len(panel)))


@hookimpl
def register_strategies(register):
    register(Ghost())
    register(Listed())
    register(Flat())
'''


@pytest.mark.parametrize(("strategy", "problem"), [
    ("ghost_engine", "names the engine 'warp_drive', which is not installed (installed engines: cross_sectional, "
                     "time_series"),
    ("listed_weights", "returned a list from target_weights; expected a float Series on the panel's (ts, symbol) "
                       "index"),
    ("flat_weights", "returned weights indexed by [None] from target_weights; expected the panel's (ts, symbol) "
                     "index"),
])
def test_a_strategy_choosing_a_missing_engine_or_returning_a_wrong_shape_is_named(  # type: ignore[no-untyped-def]
        run_cde, tmp_path: Path, strategy: str, problem: str) -> None:
    from cde_core.testing import write_bars_lake

    write_bars_lake(tmp_path / "lake", "time-1h", ["AAAUSDT", "BBBUSDT"], 24 * 5)
    site = install_fake_distribution(tmp_path / "site", "cde-strategies", "cde_strategies", STRATEGIES, "strategies")
    (tmp_path / "run.yaml").write_text(f"strategy: {strategy}\nbars: time-1h\n")
    result = run_cde("backtest", "run", "--config", str(tmp_path / "run.yaml"), env={"PYTHONPATH": str(site)})
    assert result.returncode == 1  # before: "no engines named 'warp_drive'" / "weights must be indexed by …"
    assert f"error: strategy '{strategy}' from cde-strategies 0.0.1 (plugin strategies) {problem}" in result.stderr, \
        result.stderr


SIGNALS = '''
import pandas as pd
from cde_core import hookimpl
from cde_core.contracts.base import NoParams


class Listy:
    name = "listy"
    summary = "returns a list"
    Params = NoParams
    def generate(self, features, params): return [1.0]


class Short:
    name = "short_signal"
    summary = "returns the first rows only"
    Params = NoParams
    def generate(self, features, params): return pd.Series(1.0, index=features.index[:3])


@hookimpl
def register_signals(register):
    register(Listy())
    register(Short())
'''


@pytest.mark.parametrize(("params", "problem"), [
    ("  signal: listy\n", "signal generator 'listy' from cde-signals 0.0.1 (plugin signals) returned a list from "
                          "generate; expected a float Series on the features' (ts, symbol) index"),
    ("  signal: ensemble\n  params:\n    components:\n      - signal: short_signal\n",
     "signal generator 'short_signal' from cde-signals 0.0.1 (plugin signals) returned 3 values on a different "
     "index from generate; expected the features' 240 (ts, symbol) rows"),
])
def test_a_plugin_signal_with_a_wrong_output_is_named_not_the_builtin_calling_it(  # type: ignore[no-untyped-def]
        run_cde, tmp_path: Path, params: str, problem: str) -> None:
    from cde_core.testing import write_bars_lake

    write_bars_lake(tmp_path / "lake", "time-1h", ["AAAUSDT", "BBBUSDT"], 24 * 5)
    site = install_fake_distribution(tmp_path / "site", "cde-signals", "cde_signals", SIGNALS, "signals")
    (tmp_path / "run.yaml").write_text(f"strategy: signal_xs\nbars: time-1h\nparams:\n{params}")
    result = run_cde("backtest", "run", "--config", str(tmp_path / "run.yaml"), env={"PYTHONPATH": str(site)})
    assert result.returncode == 1  # before: "'list' object has no attribute 'rename'", or a silently shorter signal
    assert f"error: {problem}" in result.stderr, result.stderr


DECLARATIONS = '''
import pandas as pd
from cde_core import hookimpl
from cde_core.contracts.base import NoParams


class Declared:
    group = "declared"
    summary = "declares something odd"
    cross_sectional = False
    Params = NoParams

    def __init__(self, name, inputs=("close",), columns=None, lookback=0):
        self.name, self.inputs, self._lookback = name, inputs, lookback
        self._columns = [name] if columns is None else columns

    def lookback(self, params): return self._lookback
    def columns(self, params): return self._columns

    def compute(self, bars, params):
        return pd.DataFrame({c: bars["close"] for c in self._columns}, index=bars.index)


@hookimpl
def register_factors(register):
    register(Declared("needs_ghost", inputs=("close", "ghost_col")))
    register(Declared("negative_lookback", lookback=-5))
    register(Declared("fractional_lookback", lookback=2.5))
    register(Declared("string_columns", columns="abc"))
'''


@pytest.mark.parametrize(("factor", "problem"), [
    ("needs_ghost", "needs the input column(s) ghost_col, which the bars do not have"),
    ("negative_lookback", "returned -5 from lookback; expected a whole number of bars (0 or more)"),
    ("fractional_lookback", "returned 2.5 from lookback; expected a whole number of bars (0 or more)"),
    ("string_columns", "returned 'abc' from columns; expected a list of distinct, non-empty column names"),
])
def test_a_factor_declaring_impossible_inputs_lookback_or_columns_is_named(  # type: ignore[no-untyped-def]
        run_cde, tmp_path: Path, factor: str, problem: str) -> None:
    from cde_core.testing import write_bars_lake

    lake = write_bars_lake(tmp_path / "lake", "time-1h", ["AAAUSDT"], 48)
    site = install_fake_distribution(tmp_path / "site", "cde-declared", "cde_declared", DECLARATIONS, "declared")
    result = run_cde("features", "compute", "--bars", "time-1h", "-f", factor, env={"PYTHONPATH": str(site)})
    # before: "the bars panel lacks column(s) ghost_col" (the bars blamed), or exit 0 with columns a, b, c
    assert result.returncode == 1
    assert f"error: factor '{factor}' from cde-declared 0.0.1 (plugin declared) {problem}" in result.stderr, \
        result.stderr
    assert not (lake / "features").exists()


BUILDERS = '''
import pyarrow as pa
from cde_core import hookimpl
from cde_core.contracts.base import NoParams


class Builder:
    summary = "returns bars of the wrong kind"
    Params = NoParams

    def __init__(self, name, output):
        self.name, self.output = name, output

    def spec_id(self, params): return self.name
    def new_state(self, params): return {}

    def update(self, state, trades):
        if self.output == "list":
            return [1, 2]
        return pa.table({"ts": trades.column("ts"), "close": trades.column("price")})

    def flush(self, state): return None


@hookimpl
def register_bar_builders(register):
    register(Builder("listing_bars", "list"))
    register(Builder("thin_bars", "thin"))
'''


@pytest.mark.parametrize(("bar", "problem"), [
    ("listing_bars", "returned a list from update/flush; expected a pyarrow Table in cde_core.schemas.BARS_SCHEMA"),
    ("thin_bars", "returned bars that do not fit cde_core.schemas.BARS_SCHEMA: missing column 'ts_close'"),
])
def test_a_bar_builder_returning_no_bars_table_is_named(run_cde, tmp_path: Path, bar: str,  # type: ignore[no-untyped-def]
                                                        problem: str) -> None:
    from datetime import date

    from cde_core.lake import Lake, Provenance
    from cde_core.testing import synthetic_trades

    lake = Lake(tmp_path / "lake")
    trades = synthetic_trades(200, start="2024-01-01", seconds=86_000)
    lake.write_partition(lake.trades_dir("binance", "spot", "AAAUSDT", date(2024, 1, 1)), trades,
                         Provenance(source="test", rows=trades.num_rows, first_trade_id=1,
                                    last_trade_id=trades.num_rows))
    site = install_fake_distribution(tmp_path / "site", "cde-builders", "cde_builders", BUILDERS, "builders")
    result = run_cde("aggregate", "--bar", bar, "--exchange", "binance", "--market", "spot", "--symbols", "AAAUSDT",
                     "--start", "2024-01-01", "--end", "2024-01-01", env={"PYTHONPATH": str(site)})
    assert result.returncode == 1  # before: "'list' object has no attribute 'num_rows'" / "missing column 'ts_close'"
    assert f"error: bar builder '{bar}' from cde-builders 0.0.1 (plugin builders) {problem}" in result.stderr, \
        result.stderr
    assert not (tmp_path / "lake" / "bars").exists()


SERVICES = '''
import sys

from pydantic import BaseModel
from cde_core import hookimpl


class Request(BaseModel):
    pass


class Failing:
    summary = "fails in its own way"
    Params = Request

    def __init__(self, name, fail):
        self.name, self.fail = name, fail

    def run(self, request, lake, progress=None):
        self.fail()


def divide():
    return 1 / 0


def leave():
    sys.exit(0)


@hookimpl
def register_services(register):
    register(Failing("lake.divide", divide))
    register(Failing("lake.leave", leave))
'''


@pytest.mark.parametrize(("service", "escaped"), [("lake.divide", "ZeroDivisionError: division by zero"),
                                                  ("lake.leave", "SystemExit: 0")])
def test_a_failing_plugin_service_called_from_a_notebook_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  service: str, escaped: str) -> None:
    from cde import Lake

    from cde_core.plugin_faults import PluginFault
    from cde_core.plugins import PluginHost, reset_plugins

    site = install_fake_distribution(tmp_path / "site", "cde-services", "cde_services", SERVICES, "services")
    monkeypatch.syspath_prepend(str(site))
    previous = reset_plugins(PluginHost())
    try:
        with pytest.raises(PluginFault) as caught:  # before: the bare ZeroDivisionError, or the script ended (exit 0)
            Lake(tmp_path / "lake").call(service)
    finally:
        reset_plugins(previous)
    assert str(caught.value).startswith(f"service '{service}' from cde-services 0.0.1 (plugin services) failed: "
                                        f"{escaped}")
