"""Acceptance: API keys, request size limit, CORS and path traversal, against the live server."""

from __future__ import annotations

import http.client
from pathlib import Path
from typing import Any

import pytest

KEYS = ("key-one", "key-two")
ORIGIN = "http://app.example.test"
SECRET = "TOP-SECRET-do-not-serve"


@pytest.fixture(scope="module")
def server(start_server: Any, server_env: dict[str, str], lake_root: Path, redis_url: str) -> Any:
    (lake_root / "runs" / "r1").mkdir(parents=True)
    (lake_root / "runs" / "r1" / "config.yaml").write_text("run: ok\n")
    (lake_root.parent / "secret.txt").write_text(SECRET)
    (lake_root / "runs" / "r1" / "escape.txt").symlink_to(lake_root.parent / "secret.txt")
    return start_server({**server_env, "CDE_API_KEYS": f"[{', '.join(KEYS)}]", "CDE_TASK_STORE": redis_url,
                         "CDE_SERVER__MAX_REQUEST_BYTES": "2048", "CDE_SERVER__CORS_ORIGINS": f"[{ORIGIN}]"})


def raw_get(server: Any, path: str) -> tuple[int, str]:
    """GET with the path sent byte for byte (httpx and browsers would normalise ``..`` away)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", path, headers={"X-API-Key": KEYS[0]})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def test_server_api_key_required_except_for_health(server: Any) -> None:
    with server.client() as client:
        missing = client.get("/tasks")
        assert missing.status_code == 401
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["detail"] == "missing API key"
        assert client.get("/tasks", headers={"X-API-Key": "wrong"}).status_code == 401
        assert client.get("/plugins", headers={"X-API-Key": KEYS[0][:-1]}).status_code == 401
        assert client.post("/test/slow", json={}).status_code == 401
        assert client.get("/no-such-route").status_code == 401  # nothing is revealed without a key
        for key in KEYS:
            assert client.get("/tasks", headers={"X-API-Key": key}).status_code == 200
        assert client.get("/health").status_code == 200
        schema = client.get("/openapi.json").json()
        assert schema["components"]["securitySchemes"]["ApiKey"]["name"] == "X-API-Key"
        assert "security" not in schema["paths"]["/health"]["get"]
        assert schema["paths"]["/tasks"]["get"]["security"] == [{"ApiKey": []}]


def test_server_request_size_limit(server: Any) -> None:
    headers = {"X-API-Key": KEYS[0], "Content-Type": "application/json"}
    with server.client(headers=headers) as client:
        assert client.post("/test/slow", content=b'{"steps": 1, "delay_s": 0}').status_code == 202
        big = b'{"steps": 1, "pad": "' + b"x" * 5000 + b'"}'
        answer = client.post("/test/slow", content=big)
        assert answer.status_code == 413
        assert answer.json()["title"] == "request too large"

        def chunks() -> Any:  # no Content-Length: counted while streaming
            for _ in range(10):
                yield b" " * 1000

        assert client.post("/test/slow", content=chunks()).status_code == 413


def test_server_cors(server: Any) -> None:
    with server.client() as client:
        preflight = client.options("/tasks", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET",
                                                      "Access-Control-Request-Headers": "X-API-Key"})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == ORIGIN
        assert client.get("/tasks", headers={"Origin": ORIGIN}).headers["access-control-allow-origin"] == ORIGIN
        other = client.get("/health", headers={"Origin": "http://evil.test"})
        assert "access-control-allow-origin" not in other.headers


TRAVERSALS = [
    "/test/runs/r1/files/../../../secret.txt",
    "/test/runs/../../secret.txt",
    "/test/runs/r1/files/..%2F..%2F..%2Fsecret.txt",
    "/test/runs/r1/files/%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret.txt",
    "/test/runs/%2e%2e/files/secret.txt",
    "/test/runs/%252e%252e/files/secret.txt",
    "/test/runs/r1/files/%252e%252e%252fsecret.txt",
    "/test/runs/r1/files/..%5C..%5Csecret.txt",
    "/test/runs/r1/files/%2Fetc%2Fpasswd",
    "/test/runs/%2Fetc/files/passwd",
    "//etc/passwd",
    "/test/runs/r1/files/config.yaml%00.txt",
    "/test/runs/..../files/secret.txt",
    "/test/runs/r1/files/escape.txt",
    "/tasks/..%2F..%2Fetc%2Fpasswd",
    "/test/runs/r1/files/config.yaml?name=../../secret.txt",
]


def test_server_path_traversal_is_refused_and_nothing_read(server: Any) -> None:
    assert raw_get(server, "/test/runs/r1/files/config.yaml") == (200, "run: ok\n")
    for path in TRAVERSALS:
        status, body = raw_get(server, path)
        assert 400 <= status < 500, (path, status, body)
        assert SECRET not in body and "root:" not in body, path
    status, body = raw_get(server, "/test/reads")
    assert status == 200
    assert body.count("config.yaml") == 1 and "secret" not in body and "escape" not in body


def test_server_openapi_fuzz_with_api_keys_on_redis(server: Any, schemathesis_run: Any) -> None:
    """schemathesis with a key (its ``ignored_auth`` check also sends none): no 5xx, no violation."""
    schemathesis_run(server, "--header", f"X-API-Key: {KEYS[0]}")
