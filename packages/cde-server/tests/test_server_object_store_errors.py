"""A lake in a bucket whose store does not answer: the API says so (502 with the cause), not 500."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cde_core.config import CdeConfig
from cde_core.testing.ports import free_port
from cde_server.api.app import create_app


def test_an_unreachable_object_store_is_a_502_naming_the_endpoint(s3_lake_url: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)  # nothing listens there any more
    app = create_app(CdeConfig(data_root=s3_lake_url))
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/backtest/runs")
    assert answer.status_code == 502, answer.text
    body = answer.json()
    assert "cannot reach the object store" in body["detail"] and endpoint in body.get("instance", "")
    assert "AWS_ENDPOINT_URL" in body.get("hint", "")


def test_a_stage_error_wrapping_a_store_outage_is_reported_as_the_outage(s3_lake_url: str, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A stage that wraps the client's OSError ("unreadable trades partition …, re-download that day", as
    the bars stage does) must not send the user to re-download good data while the store is down: the
    API answers 502 naming the store, a task's error says the same."""
    from cde_core.errors import DataError
    from cde_core.lake_location import lake_location
    from cde_server.tasks.manager import _describe

    endpoint = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    with pytest.raises(OSError) as down:  # the real client's failure, from a real request
        lake_location(s3_lake_url + "/trades/part-0.parquet").read_bytes()
    wrapped = DataError(f"unreadable trades partition: {down.value}", where=s3_lake_url, hint="re-download that day")
    assert "cannot reach the object store" in _describe(wrapped) and "re-download" not in _describe(wrapped)
    corrupt = DataError("unreadable trades partition: Parquet magic bytes not found", hint="re-download that day")
    assert _describe(corrupt) == str(corrupt)  # a bad file is still named as one

    app = create_app(CdeConfig(data_root=tmp_path / "lake"))

    @app.get("/test/wrapped-outage")
    def wrapped_outage() -> None:  # a throwaway route standing in for a stage's
        raise wrapped

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/test/wrapped-outage")
    assert answer.status_code == 502, answer.text
    assert "cannot reach the object store" in answer.json()["detail"]


def test_a_damaged_object_in_a_bucket_lake_is_a_422_naming_it_relative_to_the_lake(s3_lake_url: str) -> None:
    """pyarrow names an object "bucket/key…": the answer names the file as `<lake>/…`, as it does any
    other lake path, and says what is wrong with it instead of a 500."""
    from cde_core.lake import Lake
    from cde_core.object_store import ObjectPath

    lake = Lake(s3_lake_url)
    bad = lake.bars_dir("time-1h", "binance", "spot", "AAAUSDT") / "month=2024-03" / "part-0.parquet"
    bad.write_bytes(b"not parquet")
    with TestClient(create_app(CdeConfig(data_root=s3_lake_url)), raise_server_exceptions=False) as client:
        answer = client.get("/bars/time-1h/binance/spot/AAAUSDT")
    assert answer.status_code == 422, answer.text
    assert "unreadable Parquet file" in answer.json()["detail"]
    assert answer.json()["instance"].startswith("<lake>/bars/spec=time-1h/")
    assert ObjectPath(s3_lake_url).key not in answer.text


def test_lake_inventory_issues_name_partitions_relative_to_the_lake(s3_lake_url: str) -> None:
    from datetime import date

    import pyarrow as pa

    from cde_core.lake import Lake, Provenance
    from cde_core.object_store import ObjectPath
    from cde_core.schemas import TRADES_SCHEMA

    lake = Lake(s3_lake_url)
    empty = pa.Table.from_pylist([], schema=TRADES_SCHEMA)
    lake.write_partition(lake.trades_dir("binance", "spot", "AAAUSDT", date(2024, 3, 1)), empty,
                         Provenance(source="test", rows=0))
    (lake.trades_dir("binance", "spot", "AAAUSDT", date(2024, 3, 2)) / "part-0.parquet").write_bytes(b"")
    with TestClient(create_app(CdeConfig(data_root=s3_lake_url))) as client:
        answer = client.get("/lake")
    assert answer.status_code == 200, answer.text
    [row] = answer.json()
    [issue] = row["issues"]
    assert issue.startswith("2024-03-02: unreadable partition file") and "<lake>/trades/exchange=binance/" in issue
    assert s3_lake_url not in answer.text and ObjectPath(s3_lake_url).key not in answer.text
