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
