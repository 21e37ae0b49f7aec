"""A third-party plugin's objects failing at run time are named, never blamed on cde or the user.

The plugin loaded fine; then one of its objects leaves through ``sys.exit()`` or its own
``BaseException``, returns the wrong shape (weights, scores, bars, columns, lookback, spec ids),
declares what cannot be (an engine nobody installed, an input no bars have), or does not import on
a Dask worker. Each is a throwaway distribution on PYTHONPATH (real entry points) met through the
real ``cde``, API, task manager or notebook facade; each message names the object and distribution.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cde_core.testing import install_fake_distribution

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
def escaping_api(runtime_site: Path, tmp_path: Path, plugin_app: Any) -> Iterator[Any]:
    from cde_core.testing import write_bars_lake

    with plugin_app(runtime_site, write_bars_lake(tmp_path / "lake", "time-1h", ["AAAUSDT"], 48)) as client:
        yield client


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
