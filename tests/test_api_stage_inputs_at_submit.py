"""A body whose inputs the lake does not hold is refused at submit (4xx, nearest names or the span held,
no task queued) on every stage route that reads bars — not a 202 and a task failing after the queue.

``/features/analyze`` checked nothing against the lake; no route checked the date range against the
bars held, and the features routes took an end before the start.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cde_core.config import CdeConfig
from cde_core.testing.synthetic import write_bars_lake
from cde_server.api.app import create_app


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A lake with 1 h bars of BTCUSDT and ETHUSDT from 2024-01-01 to 2024-02-09, and a features spec."""
    root = tmp_path_factory.mktemp("lake") / "lake"
    write_bars_lake(root, "time-1h", ["BTCUSDT", "ETHUSDT"], 24 * 40)
    import pyarrow as pa
    import pyarrow.parquet as pq

    stored = root / "features/spec=default__time-1h/exchange=binance/market=spot/symbol=BTCUSDT"
    stored.mkdir(parents=True)
    pq.write_table(pa.table({"ts": pa.array([0], pa.timestamp("us", tz="UTC")), "rsi_14": [50.0],
                             "ret_log_24": [0.0]}), stored / "part-0.parquet")
    with TestClient(create_app(CdeConfig(data_root=root))) as test_client:
        yield test_client


ANALYZE = {"bars": "time-1h"}
BACKTEST = {"strategy": "momentum_ls", "bars": "time-1h", "params": {"lookback": 24}}


@pytest.mark.parametrize(("route", "body", "status", "said"), [
    ("/features/analyze", {**ANALYZE, "bars": "time-1hh"}, 404, "did you mean time-1h"),
    ("/features/analyze", {**ANALYZE, "exchange": "binanse"}, 404, "did you mean binance"),
    ("/features/analyze", {**ANALYZE, "market": "spto"}, 404, "did you mean spot"),
    ("/features/analyze", {**ANALYZE, "symbols": ["BTCUSDX"]}, 404, "did you mean BTCUSDT"),
    ("/features/analyze", {**ANALYZE, "features": "default__time-1hh"}, 404, "did you mean default__time-1h"),
    ("/features/analyze", {**ANALYZE, "start": "2030-01-01"}, 404, "the lake holds 2024-01-01 … 2024-02-09"),
    ("/features/analyze", {**ANALYZE, "features": "default__time-1h", "columns": ["rsi_1"]}, 422,
     "no feature column matches rsi_1 — did you mean rsi_14"),
    ("/features/analyze", {**ANALYZE, "start": "2024-01-10", "end": "2024-01-01"}, 422, "before start"),
    ("/features/compute", {"bars": "time-1h", "start": "2030-01-01"}, 404, "the lake holds 2024-01-01"),
    ("/features/compute", {"bars": "time-1h", "end": "2023-06-30"}, 404, "the lake holds 2024-01-01"),
    ("/features/compute", {"bars": "time-1h", "start": "2024-01-10", "end": "2024-01-01"}, 422, "before start"),
    ("/backtest/runs", {**BACKTEST, "start": "2030-01-01", "end": "2030-02-01"}, 404, "the lake holds 2024-01-01"),
    ("/backtest/runs", {**BACKTEST, "end": "2023-12-31"}, 404, "the lake holds 2024-01-01 … 2024-02-09"),
    ("/backtest/runs", {**BACKTEST, "start": "2024-02-10T00:00:00Z"}, 404, "the lake holds"),
])
def test_inputs_the_lake_does_not_hold_are_refused_at_submit(client: TestClient, route: str, body: dict[str, Any],
                                                            status: int, said: str) -> None:
    queued = len(client.get("/tasks").json())
    answer = client.post(route, json=body)
    assert answer.status_code == status, answer.text
    problem = answer.json()
    assert said in f"{problem.get('detail')} — {problem.get('hint')}", problem
    assert answer.headers["content-type"] == "application/problem+json"
    assert len(client.get("/tasks").json()) == queued, "a refused body queued a task"


@pytest.mark.parametrize(("route", "body"), [
    ("/backtest/runs", {**BACKTEST, "start": "2024-02-09", "end": "2024-03-31"}),  # overlaps the held span
    ("/backtest/runs", {**BACKTEST, "end": "2024-01-01"}),  # one held day
    ("/features/compute", {"bars": "time-1h", "factors": ["rsi"], "start": "2024-02-09", "end": "2030-01-01"}),
])
def test_a_range_that_overlaps_the_bars_held_is_accepted(client: TestClient, route: str,
                                                         body: dict[str, Any]) -> None:
    answer = client.post(route, json=body)
    assert answer.status_code == 202, answer.text
    client.post(f"/tasks/{answer.json()['id']}/cancel")


@pytest.mark.parametrize("prefix", ["/bars", "/visual/bars"])
@pytest.mark.parametrize(("path", "query", "status", "said"), [
    ("time-1hh/binance/spot/BTCUSDT", {}, 404, "did you mean time-1h"),
    ("time-1h/binanse/spot/BTCUSDT", {}, 404, "did you mean binance"),
    ("time-1h/binance/spto/BTCUSDT", {}, 404, "did you mean spot"),
    ("time-1h/binance/spot/BTCUSDX", {}, 404, "did you mean BTCUSDT"),
    ("time-1h/binance/spot/BTCUSDT", {"start": "2030-01-01"}, 404, "the lake holds 2024-01-01 … 2024-02-09"),
    ("time-1h/binance/spot/BTCUSDT", {"start": "2024-01-10", "end": "2024-01-01"}, 422, "ends before it starts"),
])
def test_reading_bars_that_are_not_there_names_what_is(client: TestClient, prefix: str, path: str,
                                                       query: dict[str, str], status: int, said: str) -> None:
    """A misspelt name on GET /bars/… (and its chart) answered "no bars … build them first", naming
    nothing held; a range after the bars or backwards said the same."""
    answer = client.get(f"{prefix}/{path}", params=query)
    assert answer.status_code == status, answer.text
    problem = answer.json()
    assert said in f"{problem.get('detail')} — {problem.get('hint')}", problem


@pytest.mark.parametrize("route", ["/visual/features/analysis", "/visual/features/analysis/data"])
def test_an_analysis_page_with_the_end_before_the_start_is_a_422(client: TestClient, route: str) -> None:
    """Found by schemathesis once the request model refused a backwards range: the page built the
    model inside the route, so its ValidationError was a 500."""
    answer = client.get(route, params={"bars": "time-1h", "start": "2024-01-10", "end": "2024-01-01"})
    assert answer.status_code == 422, answer.text
    assert "before start" in answer.json()["detail"], answer.text
