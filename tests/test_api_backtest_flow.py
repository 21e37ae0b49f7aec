"""Issue acceptance: the real app under `cde serve` (uvicorn, loopback) runs a backtest submitted over
HTTP — progress polled to completion, metrics and report fetched — on the in-memory store and on the
real Redis at 127.0.0.1:6379, and with the lake in a bucket of the loopback S3 server; the `cde
backtest` CLI gives the same run on a bucket as on a folder."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from cde_core.lake import Lake, Provenance
from cde_core.schemas import BARS_SCHEMA, PERIOD_START, TS_TYPE
from cde_core.visual.plotly_asset import SERVER_ASSET_PREFIX, asset_name, plotly_js

pytestmark = pytest.mark.e2e
SYMBOLS = ["AAAUSDT", "BBBUSDT", "CCCUSDT", "DDDUSDT", "EEEUSDT"]


def write_hourly_bars(lake: Lake, spec: str, hours: int = 24 * 40, seed: int = 3) -> None:
    """Random-walk 1 h bars for a few symbols on one shared clock, in the bars lake layout."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01", tz="UTC")
    clock = pd.date_range(start, periods=hours, freq="h")
    for k, symbol in enumerate(SYMBOLS):
        close = 100 * np.exp(np.cumsum(rng.normal(0.0002 * (k - 2), 0.01, hours)))
        open_ = np.r_[100.0, close[:-1]]
        spread = np.abs(rng.normal(0, 0.003, hours)) * close
        volume = rng.lognormal(3, 0.5, hours)
        ts = clock + pd.to_timedelta(rng.integers(0, 60_000, hours), unit="ms")
        columns = {
            "ts": ts, "ts_close": ts + pd.Timedelta(minutes=59), "open": open_,
            "high": np.maximum(open_, close) + spread, "low": np.minimum(open_, close) - spread, "close": close,
            "volume": volume, "quote_volume": volume * close, "vwap": (open_ + close) / 2,
            "n_trades": rng.integers(10, 100, hours), "buy_volume": volume / 2, "buy_quote_volume": volume * close / 2,
            "first_trade_id": np.arange(hours) * 100, "last_trade_id": np.arange(hours) * 100 + 99,
        }
        arrays = [pa.array(columns[f.name]).cast(f.type) if f.type != TS_TYPE else
                  pa.array(columns[f.name].as_unit("us")).cast(TS_TYPE) for f in BARS_SCHEMA]
        table = pa.Table.from_arrays([*arrays, pa.array(clock.as_unit("us")).cast(TS_TYPE)],
                                     names=[*BARS_SCHEMA.names, PERIOD_START])
        folder = lake.bars_dir(spec, "binance", "spot", symbol) / "month=2024-01"
        lake.write_partition(folder, table, Provenance(source="test", rows=table.num_rows))


@pytest.fixture(params=["memory", "redis", "s3"])
def server(request: pytest.FixtureRequest, tmp_path: Path,
           start_api: Callable[..., AbstractContextManager[str]]) -> Iterator[str]:
    # "s3": the lake is s3://<fresh bucket>/lake; the server gets the AWS variables of the loopback server
    lake = Lake(request.getfixturevalue("s3_lake_url") if request.param == "s3" else tmp_path / "lake")
    write_hourly_bars(lake, "time-1h")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDE_")}
    env["CDE_DATA_ROOT"] = str(lake.root)
    if request.param == "s3":
        env["CDE_CACHE_DIR"] = str(tmp_path / "server-cache")
    prefix = f"cde-test-{uuid.uuid4().hex[:8]}"
    if request.param == "redis":
        env["CDE_TASK_STORE"] = f"redis://127.0.0.1:6379/0?prefix={prefix}"
    try:
        with start_api(env, tmp_path) as url:
            yield url
    finally:
        if request.param == "redis":
            import redis

            store = redis.Redis.from_url("redis://127.0.0.1:6379/0")
            keys = list(store.scan_iter(f"{prefix}*"))
            if keys:
                store.delete(*keys)


def test_backtest_submitted_over_http_runs_to_completion_with_metrics_and_report(server: str) -> None:
    body = {"strategy": "momentum_ls", "bars": "time-1h", "exchange": "binance", "market": "spot",
            "params": {"lookback": 72, "n_long": 1, "n_short": 1},
            "engine": {"rebalance": {"every": "day", "hour": 0}, "costs": {"taker_bp": 5}}, "name": "api"}
    with httpx.Client(base_url=server, timeout=30) as client:
        submitted = client.post("/backtest/runs", json=body)
        assert submitted.status_code == 202, submitted.text
        task_id = submitted.json()["id"]
        progress: list[float] = []
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            task = client.get(f"/tasks/{task_id}").json()
            progress.append(task["progress"])
            if task["status"] in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.1)
        assert task["status"] == "succeeded", task
        assert progress == sorted(progress) and progress[-1] == 1.0
        run_id = task["result"]["run_id"]
        result = client.get(f"/backtest/runs/{run_id}").json()
        assert result["metrics"]["n_trades"] > 0
        assert result["metrics"]["total_return"] == pytest.approx(task["result"]["metrics"]["total_return"])
        nav = client.get(f"/backtest/runs/{run_id}/nav").json()
        assert nav["nav"][-1] / nav["nav"][0] - 1 == pytest.approx(result["metrics"]["total_return"], rel=1e-9)
        report = client.get(f"/backtest/runs/{run_id}/report")
        assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
        assert "plotly" in report.text.lower()
        script = f'<script src="{SERVER_ASSET_PREFIX}{asset_name()}"'
        assert script in report.text  # the lake's copy (../../assets/…) is served by this server instead
        asset = client.get(f"{SERVER_ASSET_PREFIX}{asset_name()}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith("text/javascript")
        assert run_id in [r["run_id"] for r in client.get("/backtest/runs").json()]
        assert client.get(f"/visual/runs/{run_id}").status_code == 200
        missing = client.get(f"/backtest/runs/{run_id[:-1]}x/nav")
        assert missing.status_code == 404 and missing.json()["instance"] == "<lake>/runs"  # never the bucket


def test_a_backtest_on_a_bucket_equals_the_same_backtest_on_a_folder(run_cde: Callable[..., Any],
                                                                     s3_lake_url: str, s3_server: Any,
                                                                     tmp_path: Path) -> None:
    """The real CLI in subprocesses: one lake in a folder, the same bars in a bucket; the runs' metrics
    and stored NAVs are equal, and ls / show / report work on the bucket as on the folder."""
    from cde_backtest.run_store import RunStore

    folder, bucket = Lake(tmp_path / "lake"), Lake(s3_lake_url)
    for lake in (folder, bucket):
        write_hourly_bars(lake, "time-1h")
    config = tmp_path / "run.yaml"
    config.write_text(json.dumps({"strategy": "momentum_ls", "bars": "time-1h", "exchange": "binance",
                                  "market": "spot", "params": {"lookback": 72, "n_long": 1, "n_short": 1},
                                  "engine": {"rebalance": {"every": "day"}, "costs": {"taker_bp": 5}}}))
    s3_env = {**s3_server.env, "CDE_DATA_ROOT": s3_lake_url, "CDE_CACHE_DIR": str(tmp_path / "cli-cache")}
    local = run_cde("backtest", "run", "--config", str(config), "--json")
    assert local.returncode == 0, local.stderr
    remote = run_cde("backtest", "run", "--config", str(config), "--json", env=s3_env)
    assert remote.returncode == 0, remote.stderr
    ran_local, ran_remote = json.loads(local.stdout), json.loads(remote.stdout)
    assert ran_remote["run_dir"] == f"{s3_lake_url}/runs/{ran_remote['run_id']}"
    assert ran_local["metrics"]["n_trades"] > 0
    assert ran_remote["metrics"] == ran_local["metrics"]
    nav_local = RunStore(folder).load(ran_local["run_id"]).nav
    nav_remote = RunStore(bucket).load(ran_remote["run_id"]).nav
    pd.testing.assert_frame_equal(nav_remote, nav_local)
    # --lake takes the URL as well (a Path option would have made it the local folder s3:/…)
    listed = run_cde("backtest", "ls", "--json", "--lake", s3_lake_url, env=s3_server.env)
    assert listed.returncode == 0, listed.stderr
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [ran_remote["run_id"]]
    shown = run_cde("backtest", "show", ran_remote["run_id"], "--json", env=s3_env)
    assert json.loads(shown.stdout)["report"] == f"{ran_remote['run_dir']}/report.html"
    report = bucket.run_dir(ran_remote["run_id"]) / "report.html"
    page = report.read_text()
    assert f'<script src="../../assets/{asset_name()}"' in page
    assert (bucket.root / "assets" / asset_name()).read_bytes() == plotly_js().encode()
    report.unlink()
    redrawn = run_cde("backtest", "report", ran_remote["run_id"], env=s3_env)
    assert redrawn.returncode == 0, redrawn.stderr
    assert report.read_text() == page  # re-drawn from the bucket's run files: the same page
    assert not Path(tmp_path / "s3:").exists()
