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


def _plant_outside_run(outside: Path) -> None:
    """A folder outside the lake that looks like a run, with a secret in every file the API serves."""
    source = Lake(outside.parent / "other-lake")
    nav = pd.DataFrame({"ts": pd.date_range("2024-01-01", periods=2, freq="h", tz="UTC"),
                        "nav": [7.0, 7.0], "benchmark": [7.0, 7.0]}).set_index("ts")
    folder = RunStore(source).save("secret", config={"request": {"strategy": "SECRET"}},
                                   metrics=Metrics(**dict.fromkeys(Metrics.model_fields, 7)), nav=nav,
                                   positions=pd.DataFrame({"symbol": ["A"]}), trades=pd.DataFrame({"symbol": ["A"]}),
                                   contributions=pd.DataFrame({"symbol": ["A"], "pnl": [0.0]}).set_index("symbol"),
                                   report_html="<html>SECRET</html>")
    folder.rename(outside)


def test_a_run_folder_linked_outside_the_lake_is_not_served(client: TestClient, tmp_path: Path) -> None:
    """Issue 19 item 2: a whole run folder that is a symlink out of the lake."""
    _plant_outside_run(tmp_path / "outside-run")
    (tmp_path / "lake" / "runs" / "linked").symlink_to(tmp_path / "outside-run", target_is_directory=True)
    for route in ("/backtest/runs/linked", "/backtest/runs/linked/report", "/backtest/runs/linked/nav"):
        answer = client.get(route)
        assert answer.status_code == 422 and "SECRET" not in answer.text and "7.0" not in answer.text, route
        assert answer.json()["detail"] == "path leaves the lake"
    assert [r["run_id"] for r in client.get("/backtest/runs").json()] == ["run-1"]


@pytest.mark.parametrize(("name", "route"), [("report.html", "report"), ("nav.parquet", "nav"),
                                             ("metrics.json", ""), ("config.yaml", "")])
def test_a_run_file_linked_outside_the_lake_is_not_served(client: TestClient, tmp_path: Path, name: str,
                                                          route: str) -> None:
    """Issue 19 item 2: one file of a genuine run replaced by a symlink out of the lake."""
    _plant_outside_run(tmp_path / "outside-run")
    planted = tmp_path / "lake" / "runs" / "run-1" / name
    planted.unlink()
    planted.symlink_to(tmp_path / "outside-run" / name)
    answer = client.get(f"/backtest/runs/run-1/{route}".rstrip("/"))
    assert answer.status_code == 422 and "SECRET" not in answer.text, answer.text
    assert answer.json()["instance"] == f"<lake>/runs/run-1/{name}"


def test_a_link_inside_the_lake_is_still_served(client: TestClient, tmp_path: Path) -> None:
    """Containment, not a ban on links: a report linked to another file of the lake is fine."""
    run = tmp_path / "lake" / "runs" / "run-1"
    (run / "report-copy.html").write_text("<html>copy</html>")
    (run / "report.html").unlink()
    (run / "report.html").symlink_to(run / "report-copy.html")
    assert client.get("/backtest/runs/run-1/report").text == "<html>copy</html>"


def test_a_bars_partition_linked_outside_the_lake_is_not_served(client: TestClient, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    outside = tmp_path / "outside.parquet"
    pq.write_table(pa.table({"ts": pa.array([0], pa.timestamp("us", tz="UTC")), "close": [7.0]}), outside)
    folder = tmp_path / "lake" / "bars" / "spec=t" / "exchange=binance" / "market=spot" / "symbol=BTC" / \
        "month=2024-01"
    folder.mkdir(parents=True)
    (folder / "part-0.parquet").symlink_to(outside)
    answer = client.get("/bars/t/binance/spot/BTC")
    assert answer.status_code == 422 and answer.json()["detail"] == "path leaves the lake", answer.text


def test_problem_bodies_and_task_errors_name_lake_relative_paths(client: TestClient, tmp_path: Path) -> None:
    """Issue 19 item 3: the server's absolute lake path reaches no client."""
    import time

    root = str(tmp_path / "lake")
    missing = client.get("/bars/nospec/binance/spot/BTC")
    assert missing.status_code == 404 and root not in missing.text and "<lake>/bars" in missing.text
    assert missing.json()["detail"] == "no bars spec 'nospec'", missing.text
    refused = client.post("/backtest/runs", json={"strategy": "momentum_ls", "bars": "nospec"})
    assert refused.status_code == 404 and root not in refused.text and "<lake>/bars" in refused.text
    damaged = tmp_path / "lake/bars/spec=broken/exchange=binance/market=spot/symbol=BTCUSDT/month=2024-01"
    damaged.mkdir(parents=True)
    (damaged / "part-0.parquet").write_bytes(b"not parquet")  # found at submit, unreadable in the task
    task = client.post("/backtest/runs", json={"strategy": "momentum_ls", "bars": "broken"}).json()
    while task["status"] in ("queued", "running"):
        time.sleep(0.05)
        task = client.get(f"/tasks/{task['id']}").json()
    assert task["status"] == "failed" and task["error"], task
    assert root not in task["error"] and root not in task["message"], task
    assert "<lake>" in task["error"], task


@pytest.mark.parametrize(("route", "body", "status"), [
    ("/features/compute", {"bars": "time-1h", "factors": ["no_such_factor"]}, 404),
    ("/features/compute", {"bars": "time-1h", "feature_set": "no_such_set"}, 404),
    ("/features/compute", {"bars": "time-1h", "factors": ["rsi"], "params": {"rsi": {"window": 10**30}}}, 400),
    ("/features/analyze", {"bars": "time-1h", "columns": ["no_such_factor"]}, 404),
    ("/features/analyze", {"bars": "time-1h", "horizons": [-1]}, 422),
    ("/features/analyze", {"bars": "time-1h", "horizons": []}, 422),
    ("/features/compute", {"bars": "b" * 256}, 422),
    ("/backtest/runs", {"strategy": "momentum_ls", "bars": "time-1h", "params": {"lookback": 10**30}}, 400),
    ("/backtest/runs", {"strategy": "momentum_ls", "bars": "time-1h", "name": "n" * 256}, 422),
    ("/backtest/runs", {"strategy": "momentum_ls", "bars": "time-1h", "benchmark": "NOSUCHUSDT"}, 404),
    ("/backtest/runs", {"strategy": "momentum_ls", "bars": "time-1h", "symbols": ["BTCUSDT"],
                        "benchmark": "ETHUSDT"}, 422),
    ("/download", {"exchange": "binance", "market": "spot", "symbols": ["S" * 256], "start": "2024-01-01",
                   "end": "2024-01-01"}, 422),
])
def test_bodies_that_would_fail_in_the_task_are_refused_at_submit(client: TestClient, route: str,
                                                                 body: dict[str, object], status: int) -> None:
    """Issue 19 item 11: a 4xx with the reason now, not a 202 and a task that fails later."""
    answer = client.post(route, json=body)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


def test_the_benchmark_is_never_silently_replaced_by_the_basket() -> None:
    from cde_backtest.report.benchmark import loaded_benchmark
    from cde_core.errors import DataError

    close = pd.DataFrame({"A": [1.0, 2.0]})
    assert loaded_benchmark(close, "A") == "A" and loaded_benchmark(close, None) is None
    with pytest.raises(DataError, match="benchmark 'B'"):
        loaded_benchmark(close, "B")


def test_head_answers_every_get_route(client: TestClient) -> None:
    """Issue 19 item 11: `Allow` lists HEAD wherever GET is, so HEAD must answer there (no body)."""
    for path in ("/health", "/backtest/runs", "/backtest/runs/run-1/report", "/tasks"):
        get, head = client.get(path), client.head(path)
        assert head.status_code == get.status_code == 200 and head.content == b"", path
        assert head.headers["content-type"] == get.headers["content-type"], path


def test_open_maps_in_the_schema_say_which_keys_they_take(client: TestClient) -> None:
    """Issue 19 item 11: backtest ``engine`` / ``params`` refuse unknown keys, and the schema says so."""
    body = client.get("/openapi.json").json()["components"]["schemas"]["BacktestRequest"]["properties"]
    for field in ("engine", "params"):
        choices = body[field]["anyOf"]
        assert choices and all(c["additionalProperties"] is False for c in choices), field
    assert client.post("/backtest/runs", json={"strategy": "momentum_ls", "bars": "time-1h",
                                               "engine": {"no_such_key": 1}}).status_code == 400


def test_task_results_name_lake_relative_paths(tmp_path: Path) -> None:
    """Issue 19 item 3 for results too: a run folder or a written file is named under <lake>/."""
    import time

    from cde_core.tasks import TaskContext

    app = create_app(CdeConfig(data_root=tmp_path / "lake"))
    root = str(tmp_path / "lake")
    try:
        def run(ctx: TaskContext) -> dict[str, object]:
            return {"run_dir": f"{root}/runs/r1", "files": [f"{root}/features/spec=x/part-0.parquet"], "n": 3}

        task = app.state.tasks.submit("test.paths", {}, run)
        while (info := app.state.tasks.get(task.id)).status in ("queued", "running"):
            time.sleep(0.02)
        assert info.result == {"run_dir": "<lake>/runs/r1", "files": ["<lake>/features/spec=x/part-0.parquet"],
                               "n": 3}, info
    finally:
        app.state.tasks.close(wait_s=0)


def test_misspelt_inputs_of_a_stage_task_are_refused_at_submit_with_the_nearest_names(
        client: TestClient, tmp_path: Path) -> None:
    """A misspelt symbol or bars spec is a 404 naming the nearest names now, with no task queued,
    not a 202 and a task that fails after the queue (as the CLI refuses it before any work)."""
    from datetime import date

    import pyarrow as pa

    from cde_core.lake import Provenance
    from cde_core.schemas import TRADES_SCHEMA

    lake = Lake(tmp_path / "lake")
    ts = pa.array([1_704_067_200_000_000, 1_704_067_201_000_000], type=TRADES_SCHEMA.field("ts").type)
    trades = pa.table([ts, pa.array([1, 2]), pa.array([100.0, 101.0]), pa.array([1.0, 2.0]),
                       pa.array([100.0, 202.0]), pa.array([False, True])], schema=TRADES_SCHEMA)
    lake.write_partition(lake.trades_dir("binance", "spot", "BTCUSDT", date(2024, 1, 1)), trades,
                         Provenance(source="test", rows=2, first_trade_id=1, last_trade_id=2))
    (lake.root / "bars/spec=dollar-1e6/exchange=binance/market=spot/symbol=BTCUSDT").mkdir(parents=True)
    aggregate = {"bar": "dollar", "params": {"threshold": 1e6}, "exchange": "binance", "market": "spot",
                 "symbols": ["BTCUSDX"], "start": "2024-01-01", "end": "2024-01-01"}
    cases = [("/bars/aggregate", aggregate, "did you mean BTCUSDT"),
             ("/bars/aggregate", {**aggregate, "symbols": ["BTCUSDT"], "market": "spto"}, "did you mean spot"),
             ("/bars/aggregate", {**aggregate, "symbols": ["BTCUSDT"], "start": "2025-01-01", "end": "2025-01-02"},
              "the lake holds 2024-01-01"),
             ("/features/compute", {"bars": "dollar-1e5"}, "did you mean dollar-1e6"),
             ("/features/compute", {"bars": "dollar-1e6", "symbols": ["ETHUSDT"]}, "did you mean BTCUSDT"),
             ("/backtest/runs", {"strategy": "momentum_ls", "bars": "dollar-1e5"}, "did you mean dollar-1e6"),
             ("/backtest/runs", {"strategy": "momentum_ls", "bars": "dollar-1e6", "symbols": ["BTCUSDX"]},
              "did you mean BTCUSDT")]
    for route, body, nearest in cases:
        answer = client.post(route, json=body)
        problem = answer.json()
        said = f"{problem.get('detail')} — {problem.get('hint')}"
        assert answer.status_code == 404 and nearest in said, (route, body, answer.text)
    assert client.get("/tasks").json() == [], "a refused body queued a task"
    for query, nearest in (({"symbol": "BTCUSDX"}, "did you mean BTCUSDT"),
                           ({"exchange": "binanse"}, "did you mean binance")):
        answer = client.get("/lake", params=query)  # a filter that matches nothing held: not 200 []
        assert answer.status_code == 404 and nearest in answer.json()["hint"], answer.text
    assert [row["symbol"] for row in client.get("/lake", params={"symbol": "BTCUSDT"}).json()] == ["BTCUSDT"]


@pytest.mark.parametrize(("exchange", "market", "params", "said"), [
    ("binance", "spot", {"contract_sise": {}}, "bad parameter 'contract_sise' for the binance adapter: unknown "
                                               "parameter (params) — did you mean contract_size?"),
    ("binance", "cm", {"contract_size": {"BTCUSD_PERP": -100}}, "bad parameter 'contract_size.BTCUSD_PERP'"),
    ("binance", "cm", {"contract_size": {"BTCUSD_PERP": 0}}, "greater than 0"),
    ("binance", "cm", {"contract_size": {"BTCUSD_PERP": True}}, "bad parameter 'contract_size.BTCUSD_PERP'"),
    ("okx", "swap", {"ct_val": {"BTC-USDT-SWAP": -0.01}}, "bad parameter 'ct_val.BTC-USDT-SWAP'"),
    ("okx", "swap", {"contract_size": {}}, "parameters of okx: ct_val"),
])
def test_download_adapter_parameters_are_checked_at_submit(client: TestClient, exchange: str, market: str,
                                                           params: dict[str, object], said: str) -> None:
    """An adapter parameter the adapter refuses was a 202 and a task failing with "ValidationError: 1
    validation error for BinanceParams"; a negative or zero contract size was taken and multiplied
    into every quantity. Now: 400 at submit with the one line, and no task."""
    answer = client.post("/download", json={"exchange": exchange, "market": market, "symbols": ["BTCUSD_PERP"],
                                            "start": "2024-01-01", "end": "2024-01-01", "params": params})
    assert answer.status_code == 400, answer.text
    problem = answer.json()
    assert said in f"{problem['detail']} ({problem.get('instance')}) — {problem.get('hint')}", problem
    assert client.get("/tasks").json() == [], "a refused body queued a task"
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    for model in ("DownloadRequest", "AggregateRequest"):  # the schema refuses the keys the route refuses
        choices = schema[model]["properties"]["params"]["anyOf"]
        assert choices and all(c["additionalProperties"] is False for c in choices), model


#: pydantic's names for constraints; JSON Schema ignores them (its own are minimum, maxLength …)
PYDANTIC_ONLY_KEYWORDS = {"ge", "gt", "le", "lt", "min_length", "max_length", "multiple_of", "max_digits",
                          "decimal_places", "allow_inf_nan", "strict"}
#: keys whose values are data or names, not schemas
_NOT_SCHEMAS = {"properties", "patternProperties", "$defs", "definitions", "schemas", "default", "example",
                "examples", "enum", "const", "required"}


def _pydantic_keywords(node: object, where: str) -> Iterator[str]:
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _pydantic_keywords(item, f"{where}[{i}]")
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in PYDANTIC_ONLY_KEYWORDS and not isinstance(value, dict):
                yield f"{where}.{key}"
            if key in ("properties", "patternProperties", "$defs", "definitions", "schemas"):
                for name, sub in value.items() if isinstance(value, dict) else ():
                    yield from _pydantic_keywords(sub, f"{where}.{key}.{name}")
            elif key not in _NOT_SCHEMAS:
                yield from _pydantic_keywords(value, f"{where}.{key}")


def test_the_schema_states_every_bound_in_json_schema_words(client: TestClient) -> None:
    """``horizons`` items said ``{"ge": 1, "le": 100000}``: pydantic's words, which JSON Schema ignores,
    so the schema promised any integer while the route refused -1 with 422 (a bound that only the code
    knows). Every operation of every installed plugin, parameters and bodies alike."""
    found = list(_pydantic_keywords(client.get("/openapi.json").json(), "openapi"))
    assert found == [], found
    horizons = client.get("/openapi.json").json()["components"]["schemas"]["AnalyzeRequest"]["properties"]["horizons"]
    assert horizons["items"]["minimum"] == 1 and horizons["items"]["maximum"] == 100_000, horizons


@pytest.mark.parametrize("headers", [{"Content-Type": "text/plain"},
                                     {"Content-Type": "application/x-www-form-urlencoded"}, {}])
def test_a_body_that_is_not_declared_json_is_named_as_such(client: TestClient, headers: dict[str, str]) -> None:
    """`curl -d '{…}'` sends form encoding: every JSON route answered 422 "body: Input should be a
    valid dictionary or object to extract fields from", which names neither the cause nor the fix."""
    import json

    schema = client.get("/openapi.json").json()
    posted = [(path, method) for path, item in schema["paths"].items() for method, op in item.items()
              if isinstance(op, dict) and "requestBody" in op]
    assert posted
    for path, method in posted:
        assert "415" in schema["paths"][path][method]["responses"], (method, path)
        if "{" in path:
            continue
        answer = client.request(method.upper(), path, content=json.dumps({"bars": "x"}).encode(), headers=headers)
        assert answer.status_code == 415, (path, answer.text)
        problem = answer.json()
        assert problem["detail"].startswith("the request body must be JSON, not "), problem
        assert problem["hint"] == "send it with Content-Type: application/json", problem
    declared = client.post("/features/compute", content=b'{"bars": "x"}',
                           headers={"Content-Type": "application/json; charset=utf-8"})
    assert declared.status_code == 404, declared.text  # read as JSON: an unknown bars spec
    empty = client.post("/features/compute", headers={"Content-Type": "application/json"})
    assert empty.status_code == 422 and empty.json()["detail"] == "body: Field required", empty.text


def test_a_body_that_is_not_json_says_what_and_where(client: TestClient) -> None:
    """Bad JSON answered "body.13: JSON decode error" (naming neither the problem nor what to do), and a
    body nested thousands deep 400 "http error" / "There was an error parsing the body"."""
    json_type = {"Content-Type": "application/json"}
    broken = client.post("/features/compute", content=b'{"bars": "x",}', headers=json_type)
    assert broken.status_code == 422, broken.text
    assert broken.json()["detail"] == "the body is not valid JSON: Expecting property name enclosed in double " \
                                      "quotes at character 13", broken.text
    assert broken.json()["hint"] == "check the JSON syntax near there"
    deep = client.post("/features/compute", content=b'{"a":' * 5000 + b"1" + b"}" * 5000, headers=json_type)
    assert deep.status_code == 400, deep.text
    assert deep.json()["title"] == "bad request" and "nested too deeply" in deep.json()["detail"], deep.text
