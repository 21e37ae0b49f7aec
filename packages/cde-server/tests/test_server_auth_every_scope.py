"""Closed by default beyond GET and POST: a websocket route a plugin adds, and OPTIONS on any path.

The API-key middleware and the path guard let every non-HTTP scope through, so a plugin's progress
stream or live feed answered anyone, and a ``..`` in its path reached the route; OPTIONS skipped the
key check altogether."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, WebSocket
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.websockets import WebSocketDisconnect

from cde_core import hookimpl
from cde_core.config import CdeConfig, ServerConfig
from cde_core.plugins import get_plugins
from cde_server.api.app import create_app

KEY = "the-only-key"


class StreamPlugin:
    @hookimpl
    def register_routes(self, app: FastAPI) -> None:
        @app.websocket("/test/stream/{name}")
        async def stream(websocket: WebSocket, name: str) -> None:
            await websocket.accept()
            await websocket.send_text(f"secret progress of {name}")
            await websocket.close()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    name = get_plugins().register(StreamPlugin(), name="websocket-tests")
    try:
        config = CdeConfig(data_root=tmp_path / "lake", server=ServerConfig(api_keys=[SecretStr(KEY)]))
        with TestClient(create_app(config)) as test_client:
            yield test_client
    finally:
        get_plugins().unregister(name)


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}])
def test_a_plugin_websocket_needs_the_api_key(client: TestClient, headers: dict[str, str]) -> None:
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/test/stream/a", headers=headers):
        pass
    assert refused.value.code == 1008


def test_a_plugin_websocket_answers_with_the_key(client: TestClient) -> None:
    with client.websocket_connect("/test/stream/a", headers={"X-API-Key": KEY}) as socket:
        assert socket.receive_text() == "secret progress of a"


@pytest.mark.parametrize("path", ["/test/stream/%2e%2e", "/test/stream/a%5cb", "/test/stream/a?x=../../etc"])
def test_a_plugin_websocket_path_is_guarded(client: TestClient, path: str) -> None:
    with pytest.raises(WebSocketDisconnect) as refused, \
            client.websocket_connect(path, headers={"X-API-Key": KEY}):
        pass
    assert refused.value.code == 1008


@pytest.mark.parametrize("path", ["/tasks", "/backtest/runs/x", "/no-such-route", "/test/stream/a"])
def test_options_reveals_no_route_without_a_key(client: TestClient, path: str) -> None:
    """OPTIONS skipped the key check for CORS preflights, which the CORS middleware answers before it:
    without CORS configured, OPTIONS /tasks said 405 "Allow: GET, HEAD" and OPTIONS /no-such-route
    404, to anyone — a map of the API without a key."""
    answer = client.options(path)
    assert answer.status_code == 401 and "allow" not in answer.headers, (path, answer.headers)
    preflight = client.options(path, headers={"Origin": "http://x.test", "Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 401, preflight.text  # no CORS origins configured: nothing to pre-flight
