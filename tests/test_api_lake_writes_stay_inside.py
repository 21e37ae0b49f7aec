"""Nothing is written outside the lake: a spec, symbol or run folder that is a symlink out of the lake is
never written into (nor swept) by a task, whichever stage writes it.

Reads were already refused (``Lake.inside``); writes followed the link: a bars spec, a features spec
or the runs folder linked to another directory got the task's partitions, manifests and run files there.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cde_core.config import CdeConfig
from cde_core.lake import Lake, Provenance
from cde_core.testing.synthetic import synthetic_trades, write_bars_lake
from cde_server.api.app import create_app


@pytest.fixture
def lake_root(tmp_path: Path) -> Path:
    """A lake holding two days of BTCUSDT trades and 1 h bars of two symbols."""
    lake = Lake(tmp_path / "lake")
    trades = synthetic_trades(2000, seconds=2 * 86_400)
    for day in (date(2024, 1, 1), date(2024, 1, 2)):
        start = int(day.toordinal() - date(1970, 1, 1).toordinal()) * 86_400_000_000
        ts = trades.column("ts").cast("int64").to_numpy()
        rows = trades.filter((ts >= start) & (ts < start + 86_400_000_000))
        ids = rows.column("trade_id").to_numpy()
        lake.write_partition(lake.trades_dir("binance", "spot", "BTCUSDT", day), rows,
                             Provenance(source="test", rows=rows.num_rows, first_trade_id=int(ids[0]),
                                        last_trade_id=int(ids[-1])))
    write_bars_lake(lake.root, "time-1h", ["BTCUSDT", "ETHUSDT"], 24 * 40)
    return tmp_path / "lake"


@pytest.fixture
def client(lake_root: Path) -> Iterator[TestClient]:
    with TestClient(create_app(CdeConfig(data_root=lake_root))) as test_client:
        yield test_client


def _finished(client: TestClient, task: dict[str, Any]) -> dict[str, Any]:
    while task["status"] in ("queued", "running"):
        time.sleep(0.05)
        task = client.get(f"/tasks/{task['id']}").json()
    return task


def _link_out(link: Path, outside: Path) -> None:
    outside.mkdir(parents=True)
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside, target_is_directory=True)


@pytest.mark.parametrize(("linked", "route", "body"), [
    ("bars/spec=time-2h", "/bars/aggregate",
     {"bar": "time", "params": {"interval": "2h"}, "exchange": "binance", "market": "spot", "symbols": ["BTCUSDT"],
      "start": "2024-01-01", "end": "2024-01-02"}),
    ("bars/spec=time-2h/exchange=binance/market=spot/symbol=BTCUSDT", "/bars/aggregate",
     {"bar": "time", "params": {"interval": "2h"}, "exchange": "binance", "market": "spot", "symbols": ["BTCUSDT"],
      "start": "2024-01-01", "end": "2024-01-02"}),
    ("features/spec=linked", "/features/compute", {"bars": "time-1h", "factors": ["rsi"], "out_spec": "linked"}),
    ("runs", "/backtest/runs", {"strategy": "momentum_ls", "bars": "time-1h",  # a run that trades
                                "params": {"lookback": 24, "n_long": 1, "n_short": 1, "universe_size": 2}}),
])
def test_a_task_never_writes_through_a_link_out_of_the_lake(client: TestClient, lake_root: Path, tmp_path: Path,
                                                            linked: str, route: str, body: dict[str, Any]) -> None:
    outside = tmp_path / "outside"
    _link_out(lake_root / linked, outside)
    answer = client.post(route, json=body)
    assert answer.status_code in (202, 422), answer.text
    if answer.status_code == 202:
        task = _finished(client, answer.json())
        assert task["status"] == "failed" and "path leaves the lake" in task["error"], task
        assert str(tmp_path) not in task["error"], task
    else:
        assert answer.json()["detail"] == "path leaves the lake", answer.text
    assert list(outside.rglob("*")) == [], "a file was written outside the lake"


def test_an_aggregation_never_sweeps_stale_months_through_a_link(client: TestClient, lake_root: Path,
                                                                 tmp_path: Path) -> None:
    """A month the run would replace as stale, reached through a link, is someone else's file."""
    outside = tmp_path / "outside"
    _link_out(lake_root / "bars/spec=time-2h", outside)
    kept = outside / "exchange=binance/market=spot/symbol=BTCUSDT/month=2023-12/part-0.parquet"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"not the lake's")
    task = _finished(client, client.post("/bars/aggregate", json={
        "bar": "time", "params": {"interval": "2h"}, "exchange": "binance", "market": "spot",
        "symbols": ["BTCUSDT"], "start": "2024-01-01", "end": "2024-01-02"}).json())
    assert task["status"] == "failed" and "path leaves the lake" in task["error"], task
    assert kept.read_bytes() == b"not the lake's"
    assert sorted(p.relative_to(outside).as_posix() for p in outside.rglob("*") if p.is_file()) == \
        ["exchange=binance/market=spot/symbol=BTCUSDT/month=2023-12/part-0.parquet"]


def test_a_link_that_stays_inside_the_lake_is_still_written(client: TestClient, lake_root: Path) -> None:
    (lake_root / "elsewhere-in-lake").mkdir()
    (lake_root / "features").mkdir(exist_ok=True)
    (lake_root / "features/spec=linked").symlink_to(lake_root / "elsewhere-in-lake", target_is_directory=True)
    task = _finished(client, client.post("/features/compute", json={"bars": "time-1h", "factors": ["rsi"],
                                                                   "out_spec": "linked"}).json())
    assert task["status"] == "succeeded", task
    assert list((lake_root / "elsewhere-in-lake").rglob("part-0.parquet"))
