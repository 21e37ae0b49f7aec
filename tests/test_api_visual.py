"""``/visual/…`` routes on the real app: candlesticks of stored bars, the factor-analysis page and the
run tear sheet, each as HTML and as chart JSON; API keys, the lake name checks and the shared plotly
asset; and the pages drawn by headless Chromium from a live `cde serve` process."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from cde_backtest.models import BacktestRequest
from cde_backtest.service import run_backtest
from cde_core.config import CdeConfig
from cde_core.lake import Lake, Provenance
from cde_core.schemas import BARS_SCHEMA, PERIOD_START, TS_TYPE
from cde_core.visual import testing as page
from cde_core.visual.plotly_asset import SERVER_ASSET_PREFIX, asset_name
from cde_server.api.app import create_app

SYMBOLS = ["AAAUSDT", "BBBUSDT", "CCCUSDT", "DDDUSDT", "EEEUSDT"]
HOURS = 24 * 50
KEY = "visual-test-key"


def write_lake(root: Path) -> tuple[Lake, dict[str, pd.DataFrame]]:
    """Random-walk 1 h bars in month partitions, a features set (``mom``: trailing return, ``noise``)
    and the frames written, by symbol."""
    lake = Lake(root)
    rng = np.random.default_rng(5)
    clock = pd.date_range("2024-01-01", periods=HOURS, freq="h", tz="UTC")
    written = {}
    for k, symbol in enumerate(SYMBOLS):
        close = 100 * np.exp(np.cumsum(rng.normal(0.0002 * (k - 2), 0.01, HOURS)))
        open_ = np.r_[100.0, close[:-1]]
        spread = np.abs(rng.normal(0, 0.003, HOURS)) * close
        volume = rng.lognormal(3, 0.5, HOURS)
        frame = pd.DataFrame({
            "ts": clock + pd.Timedelta(seconds=7), "ts_close": clock + pd.Timedelta(minutes=59), "open": open_,
            "high": np.maximum(open_, close) + spread, "low": np.minimum(open_, close) - spread, "close": close,
            "volume": volume, "quote_volume": volume * close, "vwap": (open_ + close) / 2,
            "n_trades": rng.integers(10, 100, HOURS), "buy_volume": volume * rng.uniform(0.2, 0.8, HOURS),
            "buy_quote_volume": volume * close / 2, "first_trade_id": np.arange(HOURS) * 100,
            "last_trade_id": np.arange(HOURS) * 100 + 99, PERIOD_START: clock})
        written[symbol] = frame.set_index(PERIOD_START)
        for month, part in frame.groupby(clock.strftime("%Y-%m")):
            arrays = [pa.array(part[f.name].to_numpy()) for f in BARS_SCHEMA]
            arrays = [a.cast(f.type) if f.type != TS_TYPE else pa.array(part[f.name].dt.as_unit("us")).cast(TS_TYPE)
                      for a, f in zip(arrays, BARS_SCHEMA, strict=True)]
            table = pa.Table.from_arrays([*arrays, pa.array(part[PERIOD_START].dt.as_unit("us")).cast(TS_TYPE)],
                                         names=[*BARS_SCHEMA.names, PERIOD_START])
            lake.write_partition(lake.bars_dir("time-1h", "binance", "spot", symbol) / f"month={month}", table,
                                 Provenance(source="test", rows=table.num_rows))
        features = pa.table({"ts": pa.array(clock.as_unit("us")).cast(TS_TYPE),
                             "mom": pa.array(np.log(close / np.r_[np.full(24, np.nan), close[:-24]])),
                             "noise": pa.array(rng.normal(size=HOURS))})
        lake.write_partition(lake.features_dir("fs__time-1h", "binance", "spot", symbol), features,
                             Provenance(source="test", rows=HOURS))
    return lake, written


@pytest.fixture(scope="module")
def lake_with_run(tmp_path_factory) -> tuple[Lake, dict[str, pd.DataFrame], str]:
    lake, written = write_lake(tmp_path_factory.mktemp("visual") / "lake")
    request = BacktestRequest(strategy="momentum_ls", bars="time-1h", exchange="binance", market="spot",
                              params={"lookback": 72, "n_long": 1, "n_short": 1})
    return lake, written, run_backtest(request, lake).run_id


@pytest.fixture(scope="module")
def client(lake_with_run) -> Iterator[TestClient]:
    with TestClient(create_app(CdeConfig(data_root=lake_with_run[0].root))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def keyed_client(lake_with_run) -> Iterator[TestClient]:
    config = CdeConfig.model_validate({"data_root": str(lake_with_run[0].root), "server": {"api_keys": [KEY]}})
    with TestClient(create_app(config)) as test_client:
        yield test_client


def test_candlestick_page_and_json_hold_exactly_the_stored_bars_of_the_range(client, lake_with_run):
    _, written, _ = lake_with_run
    path = "/visual/bars/time-1h/binance/spot/BBBUSDT"
    answer = client.get(path, params={"start": "2024-01-10", "end": "2024-01-20"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert f'<script src="{SERVER_ASSET_PREFIX}{asset_name()}"' in answer.text
    expected = written["BBBUSDT"].loc["2024-01-10":"2024-01-20 23:59"]
    candles = page.page_charts(answer.text)["candles"]["data"][0]
    assert [page.when(v) for v in page.values(candles["x"])] == list(expected.index)
    for column in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(page.values(candles[column]), expected[column].to_numpy())
    data = client.get(f"{path}/data", params={"start": "2024-01-10", "end": "2024-01-20"}).json()
    assert data["charts"] == page.page_charts(answer.text)
    buy, sell = data["charts"]["candles"]["data"][1:3]
    np.testing.assert_allclose(page.values(buy["y"]) + page.values(sell["y"]), expected["volume"].to_numpy())
    limited = client.get(f"{path}/data", params={"max_bars": 100}).json()  # the last 100 of the whole range
    x = page.values(limited["charts"]["candles"]["data"][0]["x"])
    assert len(x) == 100 and page.when(x[-1]) == written["BBBUSDT"].index[-1]
    assert "the last 100 of 1,200" in limited["subtitle"]


def test_run_page_and_json_show_the_stored_run(client, lake_with_run):
    lake, _, run_id = lake_with_run
    html = client.get(f"/visual/runs/{run_id}")
    assert html.status_code == 200 and f'<script src="{SERVER_ASSET_PREFIX}{asset_name()}"' in html.text
    data = client.get(f"/visual/runs/{run_id}/data").json()
    stored = client.get(f"/backtest/runs/{run_id}").json()
    assert data["metrics"] == stored["metrics"]
    assert {"cumulative", "drawdown", "monthly", "rolling_sharpe", "exposure"} <= set(data["charts"])
    nav = pd.read_parquet(lake.run_dir(run_id) / "nav.parquet")["nav"].to_numpy()
    shown = page.values(data["charts"]["cumulative"]["data"][0]["y"])
    np.testing.assert_allclose(shown, nav / 1_000_000.0 - 1.0, rtol=1e-12)
    report = client.get(f"/backtest/runs/{run_id}/report").text  # the stored file, its script from the server
    assert f'<script src="{SERVER_ASSET_PREFIX}{asset_name()}"' in report and "<script src=\"../../assets" not in report
    assert client.get("/visual/runs/no-such-run").status_code == 404


def test_a_run_folder_from_an_older_version_still_draws(tmp_path):
    """A run saved with only nav and benchmark columns, no trade log and no recorded cash still draws."""
    from cde_backtest.metrics import Metrics
    from cde_backtest.run_store import RunStore

    lake = Lake(tmp_path / "lake")
    nav = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC"),
                        "nav": [1.0, 1.1, 1.05], "returns": [0.0, 0.1, -0.05 / 1.1],
                        "benchmark": [1.0, 1.0, 1.0]}).set_index("ts")
    RunStore(lake).save("run-1", config={"request": {"strategy": "momentum_ls"}},
                        metrics=Metrics(**dict.fromkeys(Metrics.model_fields, 0)), nav=nav,
                        positions=pd.DataFrame({"symbol": ["A"]}), trades=pd.DataFrame({"symbol": ["A"]}),
                        contributions=pd.DataFrame({"symbol": ["A"], "pnl": [0.0]}).set_index("symbol"),
                        report_html="<html>run-1</html>")
    with TestClient(create_app(CdeConfig(data_root=lake.root))) as old:
        answer = old.get("/visual/runs/run-1/data")
        assert answer.status_code == 200, answer.text
        shown = page.values(answer.json()["charts"]["cumulative"]["data"][0]["y"])
        np.testing.assert_allclose(shown, [0.0, 0.1, 0.05])  # cash recovered from the first bar's return


def test_factor_analysis_page_and_json(client):
    params = {"bars": "time-1h", "features": "fs__time-1h", "columns": ["mom", "noise"], "horizons": [1, 24],
              "quantiles": 3}
    html = client.get("/visual/features/analysis", params=params)
    assert html.status_code == 200, html.text
    charts = page.page_charts(html.text)
    assert {"decay", "f0_ic", "f1_ic", "f0_cumulative", "f1_turnover"} <= set(charts)
    data = client.get("/visual/features/analysis/data", params=params).json()
    assert data["charts"] == charts and [t["name"] for t in charts["decay"]["data"]] == ["mom", "noise"]
    missing = client.get("/visual/features/analysis", params={**params, "columns": ["nope"]})
    assert missing.status_code == 422 and "no feature column matches" in missing.json()["detail"]


def test_plotly_asset_is_served_once_and_public(keyed_client):
    asset = keyed_client.get(f"{SERVER_ASSET_PREFIX}{asset_name()}")  # no key: a <script> cannot send one
    assert asset.status_code == 200 and asset.headers["content-type"].startswith("text/javascript")
    assert len(asset.content) > 1_000_000 and "immutable" in asset.headers["cache-control"]
    assert keyed_client.get(f"{SERVER_ASSET_PREFIX}plotly-0.0.0.min.js").status_code == 404
    assert keyed_client.app.state.plotly_asset_route  # three stages ask for it; the first adds it


@pytest.mark.parametrize("path", ["/visual/bars/time-1h/binance/spot/BBBUSDT", "/visual/runs/x",
                                  "/visual/features/analysis?bars=time-1h"])
def test_visual_routes_need_the_api_key(keyed_client, path):
    assert keyed_client.get(path).status_code == 401
    assert keyed_client.get(path, headers={"X-API-Key": "wrong"}).status_code == 401


def test_visual_routes_answer_with_the_key(keyed_client):
    answer = keyed_client.get("/visual/bars/time-1h/binance/spot/BBBUSDT/data", headers={"X-API-Key": KEY})
    assert answer.status_code == 200


@pytest.mark.parametrize("path", [
    "/visual/bars/a..b/binance/spot/BBBUSDT", "/visual/bars/time-1h/binance/spot/BBB%0A",
    "/visual/runs/.hidden", "/visual/features/analysis?bars=..%2Fruns",
    "/visual/features/analysis?bars=time-1h&symbols=..", "/visual/features/analysis?bars=time-1h&exchange=a%2Fb",
])
def test_names_that_could_leave_the_lake_are_refused(client, path):
    answer = client.get(path)
    assert answer.status_code in (400, 422), path
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_traversal_in_any_encoding_is_refused_before_the_routes(client):
    for path in ("/visual/bars/time-1h/%2e%2e/spot/BBBUSDT", "/visual/runs/%252e%252e",
                 f"{SERVER_ASSET_PREFIX}..%2f..%2fconfig.yaml"):
        assert client.get(path).status_code == 400, path


def test_openapi_lists_the_visual_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/visual/bars/{spec_id}/{exchange}/{market}/{symbol}",
                 "/visual/bars/{spec_id}/{exchange}/{market}/{symbol}/data", "/visual/runs/{run_id}",
                 "/visual/runs/{run_id}/data", "/visual/features/analysis", "/visual/features/analysis/data",
                 f"{SERVER_ASSET_PREFIX}{{name}}"):
        assert "get" in paths[path], path


@pytest.fixture(scope="module")
def live_server(lake_with_run, tmp_path_factory, start_api: Callable[..., AbstractContextManager[str]]):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDE_")}
    env["CDE_DATA_ROOT"] = str(lake_with_run[0].root)
    with start_api(env, tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.mark.skipif(page.find_chromium() is None, reason="chromium is not installed")
def test_pages_from_a_live_server_render_in_chromium(live_server, lake_with_run, tmp_path):
    run_id = lake_with_run[2]
    for path in ("/visual/bars/time-1h/binance/spot/CCCUSDT?start=2024-02-01",
                 f"/visual/runs/{run_id}", f"/backtest/runs/{run_id}/report",
                 "/visual/features/analysis?bars=time-1h&features=fs__time-1h&columns=mom&horizons=1&horizons=24"):
        assert httpx.get(live_server + path, timeout=120).status_code == 200, path
        dom = page.chromium(["--dump-dom", live_server + path], tmp_path / "profile")
        assert page.console_lines(dom.stderr) == [], path
        drawn = page.drawn_charts(dom.stdout)
        assert drawn and 'class="missing"' not in dom.stdout, path
        for key, markup in drawn.items():
            assert page.chart_has_data(markup), (path, key)
