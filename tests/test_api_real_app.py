"""Stage routes on the real app (``create_app``): they read what the factory provides.

``app.state`` holds ``config``, ``lake`` and ``tasks``; a route reading anything else (the backtest
router once read ``app.state.lake_root`` and silently fell back to the global config) only shows up
here, where the global config points somewhere else than the app's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from cde_backtest.metrics import Metrics
from cde_backtest.run_store import RunStore
from cde_core.config import CdeConfig, LoadedConfig, set_config
from cde_core.lake import Lake
from cde_server.api.app import create_app


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """The app on a lake holding one stored run, while the global config names an empty lake."""
    lake = Lake(tmp_path / "lake")
    nav = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC"),
                        "nav": [1.0, 1.1, 1.05], "benchmark": [1.0, 1.0, 1.0]}).set_index("ts")
    RunStore(lake).save("run-1", config={"request": {"strategy": "momentum_ls"}},
                        metrics=Metrics(**dict.fromkeys(Metrics.model_fields, 0)), nav=nav,
                        positions=pd.DataFrame({"symbol": ["A"]}), trades=pd.DataFrame({"symbol": ["A"]}),
                        contributions=pd.DataFrame({"symbol": ["A"], "pnl": [0.0]}).set_index("symbol"),
                        report_html="<html>run-1</html>")
    set_config(LoadedConfig(config=CdeConfig(data_root=tmp_path / "elsewhere"), origins={}))
    try:
        with TestClient(create_app(CdeConfig(data_root=lake.root))) as test_client:
            yield test_client
    finally:
        set_config(None)


def test_backtest_routes_read_the_apps_lake(client: TestClient) -> None:
    assert [r["run_id"] for r in client.get("/backtest/runs").json()] == ["run-1"]
    assert client.get("/backtest/runs/run-1").json()["metrics"]["n_trades"] == 0
    assert client.get("/backtest/runs/run-1/nav").json()["nav"] == [1.0, 1.1, 1.05]
    assert client.get("/backtest/runs/run-1/report").text == "<html>run-1</html>"
    assert client.delete("/backtest/runs/run-1").status_code == 204
    assert client.get("/backtest/runs/run-1").status_code == 404


def test_ids_outside_the_pattern_are_refused_before_the_route_runs(client: TestClient) -> None:
    for path in ("/backtest/runs/a..b", "/backtest/tasks/-x", "/bars/s/binance/spot/BTC%0A", "/tasks/a..b"):
        answer = client.get(path)
        assert answer.status_code == 422 and answer.json()["errors"][0]["loc"][0] == "path", path
    assert client.get("/lake", params={"exchange": "a..b"}).status_code in (400, 422)


def test_an_api_client_cannot_choose_where_the_server_writes_a_report(client: TestClient, tmp_path: Path) -> None:
    target = tmp_path / "written-by-client.html"
    answer = client.post("/features/analyze", json={"bars": "time-1h", "report": str(target)})
    assert answer.status_code == 422 and not target.exists()
