"""A wrong third-party plugin, as a user meets it through the real `cde` (issue 15).

Throwaway distributions are installed into a folder on PYTHONPATH (module + ``.dist-info`` with a
``cde`` entry point), so the subprocess discovers them through ``importlib.metadata`` exactly as
pip-installed plugins. Each test asserts what the user sees: who is blamed, what still works.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from cde_core.lake import Lake
from cde_core.testing import install_fake_distribution

MISCHIEF = '''
import pandas as pd
from fastapi import APIRouter
from pydantic import BaseModel
from cde_core import hookimpl
from cde_core.contracts.base import NoParams


class Factor:
    group = "mischief"
    summary = "a throwaway factor"
    inputs = ("close",)
    cross_sectional = False
    Params = NoParams

    def __init__(self, name, kind):
        self.name, self.kind = name, kind

    def lookback(self, params):
        return 0

    def columns(self, params):
        return [self.name]

    def compute(self, bars, params):
        if self.kind == "div":
            return 1 / len(bars[bars["close"] < 0])
        if self.kind == "shape":
            return pd.DataFrame({self.name: [1.0, 2.0, 3.0]})
        return pd.DataFrame({self.name: bars["close"] * 0 + 7.0}, index=bars.index)


class Strategy:
    name = "mischief_strategy"
    summary = "raises"
    engine = "cross_sectional"
    Params = NoParams

    def target_weights(self, panel, params):
        raise RuntimeError("the strategy's own bug")


@hookimpl
def register_factors(register):
    register(Factor("vwap_dev", "seven"))      # a built-in's name: must be rejected, not win
    register(Factor("mischief_div", "div"))
    register(Factor("mischief_shape", "shape"))
    register(Factor("mischief_ok", "seven"))


class Bars:
    name = "mischief_bars"
    summary = "raises on the first batch"
    Params = NoParams

    def spec_id(self, params):
        return "mischief_bars"

    def new_state(self, params):
        return {}

    def update(self, state, trades):
        raise ValueError("the builder's own bug")

    def flush(self, state):
        return None


@hookimpl
def register_strategies(register):
    register(Strategy())


@hookimpl
def register_bar_builders(register):
    register(Bars())


@hookimpl
def register_commands(app):
    @app.command("demo")
    def demo():
        print("HIJACKED DEMO")

    @app.command("mischief-hello")
    def hello():
        print("hello from mischief")


router = APIRouter()


@router.get("/plugins")
def fake_plugins():
    return {"hijacked": True}


@router.get("/mischief/ping")
def ping():
    return {"pong": True}


def boom():
    raise KeyError("route table")


@hookimpl
def register_routes(app):
    app.include_router(router)
    app.get("/mischief/alone")(ping)
    app.get("/mischief/boom")(boom)
'''

HALF_BROKEN = '''
import pandas as pd
from cde_core import hookimpl
from cde_core.contracts.base import NoParams


class HalfFactor:
    name = "half_factor"
    group = "half"
    summary = "fine on its own"
    inputs = ("close",)
    cross_sectional = False
    Params = NoParams
    def lookback(self, params): return 0
    def columns(self, params): return ["half_factor"]
    def compute(self, bars, params): return pd.DataFrame({"half_factor": bars["close"]}, index=bars.index)


@hookimpl
def register_factors(register):
    register(HalfFactor())


@hookimpl
def register_strategies(register):
    raise KeyError("strategy table")


@hookimpl
def register_commands(app):
    @app.command("half-hello")
    def hello():
        print("half says hello")
'''


@pytest.fixture
def site(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    install_fake_distribution(folder, "cde-mischief", "fake_cde_mischief", MISCHIEF, "mischief")
    install_fake_distribution(folder, "cde-half", "fake_cde_half", HALF_BROKEN, "half")
    install_fake_distribution(folder, "cde-noimport", "fake_cde_noimport", "import libfoo_missing\n", "noimport")
    return folder


@pytest.fixture
def bars_lake(tmp_path: Path) -> Path:
    from cde_core.testing import write_bars_lake

    return write_bars_lake(tmp_path / "lake", "time-1h", ["AAAUSDT", "BBBUSDT", "CCCUSDT"], 24 * 10)


def one_error_line(result: Any) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    return lines[0]


def test_plugins_lists_every_contribution_refusal_and_break(run_cde, site: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cde("plugins", "--json", env={"PYTHONPATH": str(site)})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    plugins = {p["name"]: p for p in report["plugins"]}
    assert all(p["status"] == "ok" and not p["rejected"] for p in plugins.values() if p["builtin"])
    mischief = plugins["mischief"]
    assert mischief["status"] == "ok"
    assert mischief["commands"] == ["mischief-hello"]
    assert mischief["routes"] == ["GET /mischief/alone", "GET /mischief/boom"]
    assert set(mischief["rejected"]) == {
        "factors 'vwap_dev' rejected: the name is already registered by cde-features 0.1.0 (plugin features)",
        "command 'demo' refused: already added by cde-server 0.1.0 (plugin server)",
        "route 'GET /plugins' refused (with the 1 other route(s) of its router): already added by the cde "
        "shell (cde-server)",
    }
    assert plugins["half"]["status"] == "broken"
    assert plugins["half"]["error"] == "register_strategies raised KeyError: 'strategy table'"
    assert plugins["noimport"]["error"].startswith("import failed: ModuleNotFoundError")
    components = {(c["kind"], c["name"]): c["distribution"] for c in report["components"]}
    assert components[("factors", "vwap_dev")] == "cde-features"
    assert components[("factors", "mischief_ok")] == "cde-mischief"
    assert ("factors", "half_factor") not in components  # one definition of broken: nothing of it is used
    assert {p["name"] for p in report["plugins"] if p["builtin"]} >= {"features", "server", "core"}


def test_builtin_commands_cannot_be_hijacked_and_plugin_commands_work(run_cde, site: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"PYTHONPATH": str(site)}
    hello = run_cde("mischief-hello", env=env)
    assert hello.returncode == 0 and "hello from mischief" in hello.stdout
    demo = run_cde("demo", "--help", env=env)
    assert demo.returncode == 0 and "offline" in demo.stdout and "HIJACKED" not in demo.stdout


def test_a_broken_plugins_command_and_factor_say_it_is_broken(run_cde, site: Path, bars_lake: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"PYTHONPATH": str(site)}
    command = run_cde("half-hello", env=env)
    assert command.returncode == 1 and "half says hello" not in command.stdout
    line = one_error_line(command)
    assert "plugin half (cde-half) is broken: register_strategies raised KeyError: 'strategy table'" in line
    assert "see `cde plugins`" in line
    factor = run_cde("features", "compute", "--bars", "time-1h", "-f", "half_factor", env=env)
    assert factor.returncode == 1
    line = one_error_line(factor)
    assert ("plugin half (cde-half) is broken: register_strategies raised KeyError: 'strategy table' — "
            "factor 'half_factor' comes from it; see `cde plugins`") in line
    unknown = run_cde("noimport-cmd", env=env)
    assert unknown.returncode == 1
    line = one_error_line(unknown)
    assert "no command 'noimport-cmd'; plugin noimport (cde-noimport) is broken: import failed" in line


@pytest.mark.parametrize(("factor", "expected"), [
    ("mischief_div", "factor 'mischief_div' from cde-mischief 0.0.1 (plugin mischief) failed in compute: "
                     "ZeroDivisionError: division by zero"),
    ("mischief_shape", "factor 'mischief_shape' from cde-mischief 0.0.1 (plugin mischief) returned 3 rows on a "
                       "different index"),
])
def test_a_failing_factor_is_named_with_its_distribution(run_cde, site: Path, bars_lake: Path, factor: str,  # type: ignore[no-untyped-def]
                                                         expected: str) -> None:
    result = run_cde("features", "compute", "--bars", "time-1h", "-f", factor, "-f", "ret_log",
                     env={"PYTHONPATH": str(site)})
    assert result.returncode == 1
    line = one_error_line(result)
    assert expected in line and "CDE_DISABLE_PLUGINS=mischief" in line


def test_builtin_factors_and_the_default_set_are_untouched(run_cde, site: Path, bars_lake: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"PYTHONPATH": str(site)}
    done = run_cde("features", "compute", "--bars", "time-1h", "-f", "vwap_dev", "-f", "mischief_ok", env=env)
    assert done.returncode == 0, done.stderr
    folder = bars_lake / "features"
    spec = next(folder.iterdir())
    table = pq.read_table(next(spec.rglob("part-0.parquet")))
    assert "vwap_dev_24" in table.column_names  # the built-in vwap_dev (windowed), not the newcomer
    assert table.column("mischief_ok").to_pylist()[-1] == 7.0
    listed = run_cde("features", "list", "--columns", "--json", env=env)
    plain = run_cde("features", "list", "--columns", "--json", env={"CDE_DISABLE_PLUGINS": "example"})
    assert json.loads(listed.stdout) == json.loads(plain.stdout)  # default set: same columns


def test_a_failing_strategy_is_named_with_its_distribution(run_cde, site: Path, bars_lake: Path,  # type: ignore[no-untyped-def]
                                                           tmp_path: Path) -> None:
    (tmp_path / "run.yaml").write_text(textwrap.dedent("""
        strategy: mischief_strategy
        bars: time-1h
    """))
    result = run_cde("backtest", "run", "--config", str(tmp_path / "run.yaml"), env={"PYTHONPATH": str(site)})
    assert result.returncode == 1
    line = one_error_line(result)
    assert ("strategy 'mischief_strategy' from cde-mischief 0.0.1 (plugin mischief) failed: RuntimeError: "
            "the strategy's own bug") in line


@pytest.fixture
def api_client(site: Path, bars_lake: Path, plugin_app: Any) -> Iterator[Any]:
    """The real app (every installed plugin plus the throwaway ones) on the bars lake."""
    with plugin_app(site, bars_lake) as client:
        yield client


def test_the_api_keeps_its_routes_and_serves_the_plugins(api_client: Any) -> None:
    assert api_client.get("/mischief/alone").json() == {"pong": True}
    plugins = api_client.get("/plugins").json()
    assert "hijacked" not in plugins
    mischief = next(p for p in plugins["plugins"] if p["name"] == "mischief")
    assert mischief["routes"] == ["GET /mischief/alone", "GET /mischief/boom"]
    assert api_client.get("/mischief/ping").status_code == 404  # came with the refused router
    boom = api_client.get("/mischief/boom")
    assert boom.status_code == 500 and boom.json()["title"] == "plugin failure"
    assert boom.json()["detail"] == "plugin mischief (cde-mischief) failed: KeyError: 'route table'"


def test_a_failing_bar_builder_is_named_with_its_distribution(run_cde, site: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from cde_core.lake import Provenance
    from cde_core.testing import synthetic_trades

    lake = Lake(tmp_path / "lake")
    trades = synthetic_trades(500, start="2024-01-01", seconds=86_000)
    lake.write_partition(lake.trades_dir("binance", "spot", "AAAUSDT", date(2024, 1, 1)), trades,
                         Provenance(source="test", rows=trades.num_rows, first_trade_id=1,
                                    last_trade_id=trades.num_rows))
    result = run_cde("aggregate", "--bar", "mischief_bars", "--exchange", "binance", "--market", "spot",
                     "--symbols", "AAAUSDT", "--start", "2024-01-01", "--end", "2024-01-01",
                     env={"PYTHONPATH": str(site)})
    assert result.returncode == 1
    line = one_error_line(result)
    assert ("bar builder 'mischief_bars' from cde-mischief 0.0.1 (plugin mischief) failed: ValueError: the "
            "builder's own bug") in line


def test_api_tasks_name_the_failing_plugin_object(api_client: Any) -> None:
    import time

    def outcome(path: str, body: dict[str, Any]) -> dict[str, Any]:
        task = api_client.post(path, json=body)
        assert task.status_code == 202, task.text
        for _ in range(1200):
            state: dict[str, Any] = api_client.get(f"/tasks/{task.json()['id']}").json()
            if state["status"] in ("succeeded", "failed"):
                return state
            time.sleep(0.05)
        raise AssertionError(f"task did not finish: {state}")

    factor = outcome("/features/compute", {"bars": "time-1h", "factors": ["mischief_div"]})
    assert factor["status"] == "failed"
    assert factor["error"].startswith("factor 'mischief_div' from cde-mischief 0.0.1 (plugin mischief) "
                                      "failed in compute: ZeroDivisionError")
    strategy = outcome("/backtest/runs", {"strategy": "mischief_strategy", "bars": "time-1h"})
    assert strategy["status"] == "failed"
    assert strategy["error"].startswith("strategy 'mischief_strategy' from cde-mischief 0.0.1 (plugin "
                                        "mischief) failed: RuntimeError: the strategy's own bug")
