"""A tiny local HTTP server that replays recorded REST replies (tests and the offline demo).

The live asset-pool code runs unchanged against it: the exchange base URL is configuration, so
pointing ``download.binance_api_url`` at ``server.url`` makes ccxt talk to 127.0.0.1. Unknown paths
answer 404 with a JSON body, and every request path is kept so a test can assert what was asked.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


class RecordedRestServer:
    """Serve ``routes`` (URL path without query → JSON-serialisable reply or raw bytes) on 127.0.0.1."""

    def __init__(self, routes: dict[str, Any]) -> None:
        self.routes = {path: body if isinstance(body, bytes) else json.dumps(body).encode()
                       for path, body in routes.items()}
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, name="recorded-rest", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> RecordedRestServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                body = server.routes.get(urlsplit(self.path).path)
                status = 200 if body is not None else 404
                if body is None:
                    body = json.dumps({"code": -1, "msg": f"no recorded reply for {self.path}"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                return

        return Handler


@contextmanager
def recorded_rest_server(routes: dict[str, Any]) -> Iterator[RecordedRestServer]:
    """Run a :class:`RecordedRestServer` for the duration of the ``with`` block."""
    server = RecordedRestServer(routes).start()
    try:
        yield server
    finally:
        server.stop()
