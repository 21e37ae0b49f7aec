"""A small HTTP client for a running cde server (what `cde tasks` uses).

Problem bodies come back as :class:`cde_core.errors.CdeError` with the server's detail and hint,
so the CLI prints the same one line it would for a local error.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from cde_core.config import get_config
from cde_core.errors import CdeError, NotFoundError, RemoteError

API_KEY_ENV = "CDE_API_KEY"


def default_url() -> str:
    server = get_config().server
    host = "127.0.0.1" if server.host in ("0.0.0.0", "::", "") else server.host
    return f"http://{host}:{server.port}"


def default_api_key() -> str | None:
    if os.environ.get(API_KEY_ENV):
        return os.environ[API_KEY_ENV]
    keys = get_config().server.api_keys
    return keys[0].get_secret_value() if keys else None


class ApiError(CdeError):
    """The server answered with an error (``retry_after_s``: what its Retry-After asked, if anything)."""

    title = "server error"
    retry_after_s: float | None = None


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: no server of ours sends one
        return None


class ApiClient:
    def __init__(self, url: str | None = None, *, api_key: str | None = None, timeout_s: float = 30.0) -> None:
        self.url = (url or default_url()).rstrip("/")
        key = api_key if api_key is not None else default_api_key()
        headers = {"X-API-Key": key} if key else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise RemoteError(f"cannot reach the cde server: {type(exc).__name__}", where=self.url,
                              hint="start it with `cde serve`, or pass --url") from None
        if response.is_success:
            return response.json()
        try:
            body = response.json()
        except ValueError:
            body = {}
        detail = str(body.get("detail") or body.get("title") or response.reason_phrase)
        error_type = NotFoundError if response.status_code == 404 else ApiError
        error = error_type(f"{detail} (HTTP {response.status_code})", where=f"{method} {self.url}{path}",
                           hint=body.get("hint"))
        error.http_status = response.status_code
        error.retry_after_s = _retry_after(response.headers.get("retry-after"))
        raise error

    def close(self) -> None:
        self._http.close()
