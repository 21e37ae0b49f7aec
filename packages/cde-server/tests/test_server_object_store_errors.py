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
