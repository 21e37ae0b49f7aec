"""The service end to end on a synthetic lake: load, run, save, reload; CLI and REST on top of it."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from cde_backtest.models import BacktestRequest
from cde_backtest.run_store import RUN_FILES, RunStore
from cde_backtest.service import run_backtest
from cde_core.errors import ConfigError, NotFoundError
from cde_core.lake import Lake, Provenance
from cde_core.lake_location import lake_location
from cde_core.schemas import BARS_SCHEMA, FUNDING_SCHEMA
from cde_core.visual.plotly_asset import asset_name

N_SYMBOLS = 6


def _write_lake(root, make_panel) -> tuple[Lake, pd.DataFrame]:
    lake = Lake(root)
    panel = make_panel(24 * 40, N_SYMBOLS, seed=11, funding=False, late_listing=False)
    for symbol, bars in panel.groupby(level="symbol"):
        frame = bars.reset_index()
        ts = frame["ts"]
        table = pa.table({
            "ts": pa.array(ts, BARS_SCHEMA.field("ts").type),
            "ts_close": pa.array(ts + pd.Timedelta(minutes=59), BARS_SCHEMA.field("ts").type),
            **{c: pa.array(frame[c], pa.float64()) for c in ("open", "high", "low", "close", "volume",
                                                            "quote_volume")},
            "vwap": pa.array(frame["close"], pa.float64()),
            "n_trades": pa.array(np.full(len(frame), 10), pa.int64()),
            "buy_volume": pa.array(frame["volume"] / 2, pa.float64()),
            "buy_quote_volume": pa.array(frame["quote_volume"] / 2, pa.float64()),
            "first_trade_id": pa.array(np.arange(len(frame)), pa.int64()),
            "last_trade_id": pa.array(np.arange(len(frame)), pa.int64()),
        }, schema=BARS_SCHEMA)
        for month, idx in frame.groupby(frame["ts"].dt.strftime("%Y-%m")).groups.items():
            folder = lake.bars_dir("time-1h", "binance", "um", symbol) / f"month={month}"
            lake.write_partition(folder, table.take(np.asarray(idx)), Provenance(source="test", rows=len(idx)))
        feats = pa.table({"ts": pa.array(ts, BARS_SCHEMA.field("ts").type),
                          "ret_log_72": pa.array(np.log(frame["close"] / frame["close"].shift(72)), pa.float64())})
        lake.write_partition(lake.features_dir("fs1", "binance", "um", symbol), feats,
                             Provenance(source="test", rows=len(frame)))
        # zero-rate settlements every 8 h: a complete funding tree (a perpetual run without one says so)
        calc = pd.date_range(ts.min().floor("D"), ts.max() + pd.Timedelta(hours=8), freq="8h")
        for month, stamps in pd.Series(calc).groupby(calc.strftime("%Y-%m")):
            lake.write_partition(lake.funding_dir("binance", "um", symbol, pd.Timestamp(month + "-01").date()),
                                 pa.table({"calc_time": pa.array(stamps, FUNDING_SCHEMA.field("calc_time").type),
                                           "funding_interval_hours": pa.array(np.full(len(stamps), 8), pa.int64()),
                                           "funding_rate": np.zeros(len(stamps))}, schema=FUNDING_SCHEMA),
                                 Provenance(source="test", rows=len(stamps)))
    return lake, panel


@pytest.fixture(scope="module", params=["local", "s3"])
def lake_and_panel(request, tmp_path_factory, panel_factory):
    """The same synthetic lake in a folder and in a bucket of the loopback S3 server: every test of
    this module runs on both."""
    if request.param == "local":
        yield _write_lake(tmp_path_factory.mktemp("lake"), panel_factory)
        return
    server = request.getfixturevalue("s3_server")
    with pytest.MonkeyPatch.context() as env:
        for key, value in server.env.items():
            env.setenv(key, value)
        env.setenv("CDE_CACHE_DIR", str(tmp_path_factory.mktemp("cde-cache")))
        yield _write_lake(f"s3://{server.create_bucket()}/lake", panel_factory)


def _request(**extra) -> BacktestRequest:
    data = {"strategy": "momentum_ls", "bars": "time-1h", "features": "fs1", "exchange": "binance",
            "market": "um", "params": {"factor": "ret_log_72", "n_long": 2, "n_short": 2, "universe_size": 5,
                                       "volume_window": 48},
            "engine": {"rebalance": {"every": "day"}, "costs": {"taker_bp": 5}}}
    data.update(extra)
    return BacktestRequest.model_validate(data)


def test_backtest_service_runs_and_reloads(lake_and_panel):
    lake, _ = lake_and_panel
    seen = []
    result = run_backtest(_request(start=datetime(2024, 1, 3), end=datetime(2024, 2, 5)), lake,
                          progress=lambda f, m: seen.append(f))
    assert seen[-1] == 1.0 and seen == sorted(seen)
    folder = lake.run_dir(result.run_id)
    assert sorted(p.name for p in folder.iterdir()) == sorted(RUN_FILES)
    assert result.start == pd.Timestamp("2024-01-03", tz="UTC").to_pydatetime()
    assert result.end < pd.Timestamp("2024-02-05", tz="UTC").to_pydatetime()
    stored = RunStore(lake).load(result.run_id)
    assert stored.metrics == result.metrics
    assert stored.config["request"]["strategy"] == "momentum_ls"
    assert stored.config["resolved"]["engine"] == "cross_sectional"
    assert stored.config["resolved"]["engine_params"]["costs"]["taker_bp"] == 5
    assert len(stored.trades) == result.metrics.n_trades > 0
    assert set(stored.trades["reason"]) == {"rebalance"}
    # weekly... daily rebalance, 2 long / 2 short of the 5 most liquid: at most 4 positions held
    held = stored.positions.groupby("ts")["symbol"].count()
    assert held.max() <= 4
    assert stored.nav["nav"].iloc[-1] == pytest.approx(
        stored.contributions["total"].sum() + 1_000_000.0, rel=1e-9)
    assert stored.report.read_text().count("<h2>") >= 7
    # the config is a complete request: re-running it gives the same NAV
    again = run_backtest(BacktestRequest.model_validate(stored.config["request"]), lake)
    np.testing.assert_allclose(RunStore(lake).load(again.run_id).nav["nav"], stored.nav["nav"], rtol=1e-12)


def test_backtest_service_universe_restricts_trading(lake_and_panel):
    lake, _ = lake_and_panel
    members = ["S00USDT", "S01USDT", "S02USDT", "S03USDT"]
    universe = pd.DataFrame({"date": ["2024-01-01"] * 4, "symbol": members})
    params = {"factor": "ret_log_72", "n_long": 1, "n_short": 1}
    result = run_backtest(_request(params=params), lake, universe=universe)
    traded = set(RunStore(lake).load(result.run_id).trades["symbol"])
    assert traded <= set(members) and traded
    other = run_backtest(_request(params=params, universe={"2024-01-01": members[:2], "2024-01-20": members}), lake)
    trades = RunStore(lake).load(other.run_id).trades
    assert set(trades.loc[trades["ts"] < "2024-01-20", "symbol"]) <= set(members[:2])


def test_backtest_service_errors_are_actionable(lake_and_panel):
    lake, _ = lake_and_panel
    with pytest.raises(NotFoundError, match="strategies"):
        run_backtest(_request(strategy="nope"), lake)
    with pytest.raises(ConfigError, match="n_long"):
        run_backtest(_request(params={"n_long": -1}), lake)
    with pytest.raises(ConfigError, match="rebalance"):
        run_backtest(_request(engine={"rebalance": {"every": "fortnight"}}), lake)
    with pytest.raises(NotFoundError, match="bars spec"):
        run_backtest(_request(bars="missing"), lake)
    with pytest.raises(NotFoundError, match="no symbol 'XXXUSDT'"):
        run_backtest(_request(symbols=["XXXUSDT"]), lake)
    with pytest.raises(NotFoundError):
        RunStore(lake).load("no-such-run")
    with pytest.raises(ValueError, match="end 2024-01-02 00:00 is not after start 2024-01-05"):
        _request(start="2024-01-05", end="2024-01-01")  # a date end includes its day: 2024-01-02 00:00


@pytest.mark.parametrize(("change", "message"), [
    ({"symbols": ["S01USDT", "SO2USDT"]}, r"no symbol 'SO2USDT'.*did you mean S02USDT"),
    ({"symbols": ["s01usdt"]}, r"no symbol 's01usdt'.*did you mean S01USDT"),
    ({"exchange": "binanse"}, r"no exchange 'binanse'.*did you mean binance"),
    ({"market": "usdm"}, r"no market 'usdm'.*um"),
    ({"bars": "time-1hh"}, r"no bars spec 'time-1hh'.*did you mean time-1h"),
    ({"features": "fs2"}, r"no feature set 'fs2'.*did you mean fs1"),
    ({"start": datetime(2025, 1, 1)}, r"no bars of any symbol from 2025-01-01.*months 2024-01 … 2024-02"),
    ({"symbols": ["S01USDT"], "start": datetime(2023, 1, 1), "end": datetime(2023, 2, 1)},
     r"no bars of S01USDT from 2023-01-01.*2024-01 … 2024-02"),
    ({"params": {"factor": "ret_log_27", "n_long": 1, "n_short": 1}},
     r"no column 'ret_log_27'.*did you mean ret_log_72"),
    ({"params": {"factor": "rsi_99"}}, r"no column 'rsi_99'"),
    ({"benchmark": "S00USDX"}, r"benchmark 'S00USDX' is not among.*did you mean S00USDT"),
    ({"strategy": "momentum_sl"}, r"no strategies named 'momentum_sl'.*did you mean momentum_ls"),
    ({"engine": {"delist_afte_bars": 5}}, r"'delist_afte_bars'.*did you mean delist_after_bars"),
    ({"engine": {"risk": {"max_leverge": 2}}}, r"'risk.max_leverge'.*did you mean max_leverage"),
    ({"params": {"n_lng": 2}}, r"'n_lng'.*did you mean n_long"),
])
def test_backtest_names_missing_from_the_lake_are_errors_with_the_nearest_names(lake_and_panel, change, message):
    """A typo or an empty date range never runs on less data (or another factor) than asked for."""
    from cde_core.errors import CdeError

    lake, _ = lake_and_panel
    with pytest.raises(CdeError, match=message):
        run_backtest(_request(**change), lake)


def test_backtest_run_store_delete_and_list(lake_and_panel):
    lake, _ = lake_and_panel
    result = run_backtest(_request(name="todelete"), lake)
    store = RunStore(lake)
    assert result.run_id in {r.run_id for r in store.list()}
    with pytest.raises(NotFoundError, match=f"did you mean {result.run_id}"):
        store.load(result.run_id[:-1] + "x")  # a typo in the run id gets the nearest ids
    store.delete(result.run_id)
    assert result.run_id not in {r.run_id for r in store.list()}
    assert not any(p.name.startswith(".") for p in lake.runs_dir().iterdir())


def test_backtest_cli_run_ls_show(lake_and_panel, tmp_path):
    import typer
    from typer.testing import CliRunner

    from cde_backtest.cli import backtest_app

    lake, _ = lake_and_panel
    app = typer.Typer()
    app.add_typer(backtest_app, name="backtest")
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(_request().model_dump(mode="json", exclude={"strategy"})))
    runner = CliRunner()
    out = runner.invoke(app, ["backtest", "run", "--strategy", "momentum_ls", "--config", str(config),
                              "--lake", str(lake.root), "--set", "params.n_long=1", "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert RunStore(lake).config(result["run_id"])["request"]["params"]["n_long"] == 1
    listed = runner.invoke(app, ["backtest", "ls", "--lake", str(lake.root), "--json"])
    assert result["run_id"] in {r["run_id"] for r in json.loads(listed.output)}
    shown = runner.invoke(app, ["backtest", "show", result["run_id"], "--lake", str(lake.root)])
    assert shown.exit_code == 0 and "sharpe" in shown.output and "report.html" in shown.output
    table = runner.invoke(app, ["backtest", "run", "--config", str(config), "--strategy", "momentum_ls",
                                "--lake", str(lake.root)])
    assert table.exit_code == 0 and "total_return" in table.output and "report:" in table.output
    assert "Sharpe ratio" in table.output  # human labels beside the keys
    mailed = tmp_path / "mail" / "run.html"
    mailed.parent.mkdir()
    one_file = runner.invoke(app, ["backtest", "report", result["run_id"], "--lake", str(lake.root),
                                   "--self-contained", "--out", str(mailed)])
    assert one_file.exit_code == 0, one_file.output
    assert "<script src=" not in mailed.read_text() and mailed.stat().st_size > 3_000_000
    beside = runner.invoke(app, ["backtest", "report", result["run_id"], "--lake", str(lake.root),
                                 "--out", str(tmp_path / "mail" / "small.html")])
    assert beside.exit_code == 0 and (tmp_path / "mail" / asset_name()).exists()
    stored = RunStore(lake).load(result["run_id"]).report
    before = stored.read_text()
    redrawn = runner.invoke(app, ["backtest", "report", result["run_id"], "--lake", str(lake.root)])
    assert redrawn.exit_code == 0 and stored.read_text() == before  # a stored run re-draws the same page
    schemas = runner.invoke(app, ["backtest", "strategies", "--json"])
    names = {s["name"]: s for s in json.loads(schemas.output)}
    assert {"momentum_ls", "mean_reversion_xs", "trend_following"} <= set(names)
    assert "n_long" in names["momentum_ls"]["params_schema"]["properties"]
    bad = runner.invoke(app, ["backtest", "run", "--config", str(config), "--lake", str(lake.root)])
    assert bad.exit_code != 0 and isinstance(bad.exception, ConfigError)


def test_backtest_sweep_through_executor(lake_and_panel, tmp_path):
    from cde_backtest.sweep import SweepRequest, run_sweep

    lake, _ = lake_and_panel
    base = _request().model_dump(mode="json")
    result = run_sweep(SweepRequest(base=base, grid={"params.n_long": [1, 2], "engine.rebalance.every":
                                                     ["day", "week"]}), lake)
    assert len(result.rows) == 4
    assert len({r.run_id for r in result.rows}) == 4
    assert {(r.values["params.n_long"], r.values["engine.rebalance.every"]) for r in result.rows} == {
        (1, "day"), (1, "week"), (2, "day"), (2, "week")}
    for row in result.rows:
        assert RunStore(lake).metrics(row.run_id).sharpe == pytest.approx(row.sharpe)
    heatmap = lake_location(result.heatmap)
    assert heatmap.parent.parent.parent == lake.root  # <root>/sweeps/<id>/heatmap.html
    # the heat map loads the lake's one copy of plotly.js by a URL relative to the page
    assert f'<script src="../../assets/{asset_name()}"' in heatmap.read_text()
    assert (lake.root / "assets" / asset_name()).exists()


class _InlineTasks:
    """A TaskSubmitter that runs the task at once (the server's manager is another package)."""

    def __init__(self) -> None:
        self.tasks = {}

    def submit(self, kind, params, run, *, idempotent=False, timeout_s=None):
        from cde_core.progress import CancelToken
        from cde_core.tasks import TaskContext, TaskInfo

        info = TaskInfo(id=f"t{len(self.tasks)}", kind=kind, params=params.model_dump(mode="json"),
                        created_at=datetime.now())
        ctx = TaskContext(task_id=info.id, progress=lambda f, m: None, cancel=CancelToken())
        info.result, info.status = run(ctx), "succeeded"
        self.tasks[info.id] = info
        return info

    def get(self, task_id):
        return self.tasks[task_id]


def test_backtest_api_routes(lake_and_panel):
    fastapi = pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from cde_backtest.api import build_router
    from cde_core.errors import CdeError

    lake, _ = lake_and_panel
    app = fastapi.FastAPI()
    app.state.tasks = _InlineTasks()
    app.state.lake = lake

    @app.exception_handler(CdeError)
    def _problem(request, exc):
        return fastapi.responses.JSONResponse(exc.problem(), status_code=exc.http_status)

    app.include_router(build_router())
    client = TestClient(app)
    submitted = client.post("/backtest/runs", json=_request().model_dump(mode="json"))
    assert submitted.status_code == 202, submitted.text
    task = client.get(f"/backtest/tasks/{submitted.json()['id']}").json()
    assert task["status"] == "succeeded"
    run_id = task["result"]["run_id"]
    assert run_id in {r["run_id"] for r in client.get("/backtest/runs").json()}
    detail = client.get(f"/backtest/runs/{run_id}").json()
    assert detail["metrics"]["n_trades"] > 0
    nav = client.get(f"/backtest/runs/{run_id}/nav").json()
    assert len(nav["ts"]) == len(nav["nav"]) == len(nav["drawdown"]) > 0 and max(nav["drawdown"]) <= 0
    report = client.get(f"/backtest/runs/{run_id}/report")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert {s["name"] for s in client.get("/backtest/engines").json()} >= {"cross_sectional", "time_series"}
    signals = {s["name"]: s for s in client.get("/backtest/signals").json()}
    assert "long_when" in signals["rule"]["params_schema"]["properties"]
    assert client.post("/backtest/runs", json={**_request().model_dump(mode="json"),
                                               "strategy": "nope"}).status_code == 404
    assert client.delete(f"/backtest/runs/{run_id}").status_code == 204
    assert client.get(f"/backtest/runs/{run_id}").status_code == 404


def _leveraged(on_limit: str) -> BacktestRequest:
    """Weights of 50/n: signal_xs top_bottom with 25 long and 25 short gross on 2 + 2 symbols."""
    return _request(strategy="signal_xs", params={"signal": "factor", "params": {
        "column": "ret_log_72", "method": "top_bottom", "n_long": 2, "n_short": 2, "long_gross": 25.0,
        "short_gross": 25.0}}, engine={"rebalance": {"every": "day"}, "risk": {"on_limit": on_limit}})


def test_backtest_weights_beyond_the_leverage_limit_are_scaled_and_reported(lake_and_panel):
    lake, _ = lake_and_panel
    result = run_backtest(_leveraged("scale"), lake)
    scaled = [n for n in result.notices if "exceeded the risk limits and were scaled" in n]
    assert scaled and "largest gross asked 50.00, allowed 10.00" in scaled[0]
    stored = RunStore(lake).load(result.run_id)
    assert stored.config["notices"] == result.notices
    from cde_backtest.report import build_report
    from cde_backtest.report.stored import stored_report_inputs

    def warning_box(page: str) -> str:  # the notice box drawn above the metrics
        return page.split('<div class="notice">', 1)[1].split("</div>", 1)[0]

    assert "were scaled" in warning_box(stored.report.read_text())
    assert "were scaled" in warning_box(build_report(stored_report_inputs(stored)))  # re-drawn too
    # the book never holds more than 10× at a fill (weights drift a little between rebalances)
    trades = stored.trades
    first_fill = trades[trades["ts"] == trades["ts"].min()]
    assert first_fill["notional"].sum() == pytest.approx(10 * 1_000_000.0, rel=0.02)


def test_backtest_weights_beyond_the_leverage_limit_are_refused_when_configured(lake_and_panel):
    from cde_core.errors import DataError

    lake, _ = lake_and_panel
    with pytest.raises(DataError, match=r"break the risk limits \(gross 50.00, allowed 10.00"):
        run_backtest(_leveraged("refuse"), lake)


def test_backtest_clean_run_has_no_notices(lake_and_panel):
    lake, _ = lake_and_panel
    result = run_backtest(_request(), lake)
    assert result.notices == []
    assert "Notices" not in lake_location(result.report).read_text()


def test_backtest_cli_prints_numbers_between_ten_and_a_hundred_thousand_plainly(lake_and_panel):
    """Initial cash 17,790: the fees, NAV-sized numbers land in 10,000–100,000 and must not print as 1.779e+04."""
    import re

    import typer
    from typer.testing import CliRunner

    from cde_backtest.cli import backtest_app

    lake, _ = lake_and_panel
    result = run_backtest(_request(engine={"initial_cash": 17_790.0, "rebalance": {"every": "bar"},
                                           "costs": {"taker_bp": 500}}), lake)
    assert 1e4 <= result.metrics.total_fees < 1e5  # the case the test is about
    app = typer.Typer()
    app.add_typer(backtest_app, name="backtest")
    shown = CliRunner().invoke(app, ["backtest", "show", result.run_id, "--lake", str(lake.root)])
    assert shown.exit_code == 0, shown.output
    table = [line for line in shown.output.splitlines() if "│" in line]  # not the run id: its hex may read 3e5
    assert len(table) >= 19 and not re.search(r"\d[eE][+-]?\d", "\n".join(table)), shown.output
    assert f"{result.metrics.total_fees:,.2f}" in shown.output
    assert f"{result.metrics.total_fees:,.2f}" in lake_location(result.report).read_text()


@pytest.fixture(scope="module")
def wide_features(lake_and_panel):
    """A feature set of 170 columns (like the default set), so pandas block fragmentation would show."""
    lake, panel = lake_and_panel
    rng = np.random.default_rng(5)
    for symbol, bars in panel.groupby(level="symbol"):
        ts = bars.reset_index()["ts"]
        columns = {f"f{k:03d}": pa.array(rng.normal(size=len(ts)), pa.float64()) for k in range(170)}
        table = pa.table({"ts": pa.array(ts, BARS_SCHEMA.field("ts").type), **columns,
                          "ret_log_72": pa.array(rng.normal(size=len(ts)), pa.float64())})
        lake.write_partition(lake.features_dir("wide", "binance", "um", symbol), table,
                             Provenance(source="test", rows=len(ts)))
    return lake


@pytest.mark.filterwarnings("error::pandas.errors.PerformanceWarning")
@pytest.mark.parametrize("strategy", [
    # 2 + 2 of a 4-symbol universe (the default 3 + 3 never trades, which is now an error)
    {"strategy": "momentum_ls", "universe": {"2024-01-01": ["S00USDT", "S01USDT", "S02USDT", "S03USDT"]},
     "params": {"n_long": 2, "n_short": 2}},
    {"strategy": "mean_reversion_xs", "params": {"factor": "f001"}},
    {"strategy": "trend_following", "params": {"fast": 5, "slow": 20}, "engine": {"sizing": "vol_target",
                                                                                  "vol_window": 48}},
    {"strategy": "signal_xs", "params": {"signal": "factor", "params": {"column": "f002", "method": "top_bottom"}}},
    {"strategy": "signal_ts", "params": {"signal": "rule", "params": {"long_when": ["f003 > 0"],
                                                                       "short_when": ["f003 < -1"]}}},
])
def test_backtest_raises_no_pandas_performance_warning(wide_features, strategy):
    change = {"features": "wide", "engine": {}, "params": {}, **strategy}
    result = run_backtest(_request(**change), wide_features)
    assert result.n_bars > 0


def _strict_json(text: str):
    """JSON as a strict parser (a browser's JSON.parse, jq) reads it: NaN and Infinity are not JSON."""
    def refuse(token):
        raise AssertionError(f"{token} in JSON output")
    return json.loads(text, parse_constant=refuse)


def test_a_run_that_never_trades_is_refused_everywhere_not_stored_as_zero(lake_and_panel, tmp_path):
    """A flat NAV (no position ever) would read as total return 0 %, a plausible number: `cde backtest run`
    exits 1 with one line naming the strategy, nothing lands under runs/, and the REST route fails with
    the same words instead of storing a 0 % run."""
    import typer
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from cde_backtest.api import build_router
    from cde_backtest.cli import backtest_app
    from cde_backtest.flat_run import FlatRunError

    lake, _ = lake_and_panel
    idle = _request(params={"factor": "ret_log_72", "n_long": 0, "n_short": 0, "universe_size": 5,
                            "volume_window": 48})
    config = tmp_path / "idle.yaml"
    config.write_text(yaml.safe_dump(idle.model_dump(mode="json")))
    app = typer.Typer()
    app.add_typer(backtest_app, name="backtest")
    before = [r.run_id for r in RunStore(lake).list()]
    out = CliRunner().invoke(app, ["backtest", "run", "--config", str(config), "--lake", str(lake.root), "--json"])
    assert out.exit_code == 1 and isinstance(out.exception, FlatRunError)
    assert "strategy momentum_ls took no position" in str(out.exception)
    assert [r.run_id for r in RunStore(lake).list()] == before

    api = FastAPI()
    api.state.tasks = _InlineTasks()
    api.state.lake = lake
    api.include_router(build_router())
    with pytest.raises(FlatRunError, match="took no position"):
        TestClient(api).post("/backtest/runs", json=idle.model_dump(mode="json"))
    assert [r.run_id for r in RunStore(lake).list()] == before


def test_an_infinite_ratio_reads_the_same_in_every_json_output(tmp_path):
    """A run that never loses a bar has Sortino and profit factor +inf: ``run --json``, ``show --json``,
    the REST task result and ``GET /runs/{id}`` all say "inf" (``run --json`` and the task said null,
    the sign of an undefined value, while ``show`` said "inf")."""
    import typer
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from cde_backtest.api import build_router
    from cde_backtest.cli import backtest_app
    from cde_core.testing.synthetic import hourly_time_bars

    lake = Lake(tmp_path / "lake")
    hours = 24 * 6
    table = hourly_time_bars(100 * 1.001 ** np.arange(1, hours + 1), np.full(hours, 5.0))
    lake.write_partition(lake.bars_dir("time-1h", "vendor", "spot", "UPP") / "month=2024-03", table,
                         Provenance(source="test", rows=hours))
    request = BacktestRequest.model_validate({
        "strategy": "trend_following", "params": {"fast": 2, "slow": 4, "long_only": True},
        "bars": "time-1h", "exchange": "vendor", "market": "spot", "engine": {"costs": {"taker_bp": 0}}})
    config = tmp_path / "up.yaml"
    config.write_text(yaml.safe_dump(request.model_dump(mode="json")))
    app = typer.Typer()
    app.add_typer(backtest_app, name="backtest")
    runner = CliRunner()
    ran = _strict_json(runner.invoke(app, ["backtest", "run", "--config", str(config), "--lake", str(lake.root),
                                           "--json"]).output)
    assert ran["metrics"]["n_trades"] > 0 and ran["metrics"]["sortino"] == "inf"
    assert ran["metrics"]["profit_factor"] == "inf"
    shown = _strict_json(runner.invoke(app, ["backtest", "show", ran["run_id"], "--lake", str(lake.root),
                                             "--json"]).output)
    assert shown["metrics"]["sortino"] == "inf"
    api = FastAPI()
    api.state.tasks = _InlineTasks()
    api.state.lake = lake
    api.include_router(build_router())
    client = TestClient(api)
    task = client.post("/backtest/runs", json=request.model_dump(mode="json")).json()
    result = _strict_json(client.get(f"/backtest/tasks/{task['id']}").text)["result"]
    assert result["metrics"]["sortino"] == "inf"
    assert _strict_json(client.get(f"/backtest/runs/{result['run_id']}").text)["metrics"]["sortino"] == "inf"


def test_a_sweep_keeps_a_flat_combination_as_a_row_without_metrics(lake_and_panel, tmp_path):
    """A grid point that never trades has no run and no metrics: `cde backtest sweep` prints "—" for it
    (it printed "nan"; a refused flat run must not abort the other points either), says why in a
    notice, and keeps it in summary.parquet with NaN metrics and the note; a grid where every point
    is flat is an error, not a table of dashes."""
    import typer
    from typer.testing import CliRunner

    from cde_backtest.cli import backtest_app

    lake, _ = lake_and_panel
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"base": _request().model_dump(mode="json"),
                                    "grid": {"params.n_long": [0, 2], "params.n_short": [0]}}))
    app = typer.Typer()
    app.add_typer(backtest_app, name="backtest")
    earlier = set((lake.root / "sweeps").glob("*/summary.parquet"))  # the bucket is shared by other tests
    out = CliRunner().invoke(app, ["backtest", "sweep", "--grid", str(grid), "--lake", str(lake.root)])
    assert out.exit_code == 0, out.output
    rows = [line for line in out.output.splitlines() if line.count("│") >= 6 and
            line.split("│")[1].strip() in {"0", "2"}]
    assert len(rows) == 2 and "nan" not in out.output.lower()
    flat = next(r for r in rows if r.split("│")[1].strip() == "0")
    traded = next(r for r in rows if r.split("│")[1].strip() == "2")
    assert "no position" in flat.split("│")[3] and flat.split("│")[5].strip() == "—"
    assert "momentum-ls" in traded and traded.split("│")[5].strip() != "—"
    assert "notice: params.n_long=0, params.n_short=0: strategy momentum_ls took no position" in out.output
    (summary_file,) = set((lake.root / "sweeps").glob("*/summary.parquet")) - earlier
    summary = pq.read_table(getattr(summary_file, "key", summary_file),
                            filesystem=getattr(summary_file, "fs", None)).to_pandas()
    flat_row = summary[summary["params.n_long"] == "0"].iloc[0]
    assert pd.isna(flat_row["run_id"]) and np.isnan(flat_row["sharpe"]) and "no position" in flat_row["note"]

    grid.write_text(yaml.safe_dump({"base": _request().model_dump(mode="json"),
                                    "grid": {"params.n_long": [0], "params.n_short": [0]}}))
    out = CliRunner().invoke(app, ["backtest", "sweep", "--grid", str(grid), "--lake", str(lake.root)])
    assert out.exit_code == 1 and "no combination of the sweep grid held a position" in str(out.exception)
