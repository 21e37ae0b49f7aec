"""The CLI: `cde serve` really serves, `cde tasks` talks to a live server, the shell commands and
shell completion still work."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cde_server.cli.main import run

FINISHED = {"succeeded", "failed", "cancelled"}


@pytest.fixture(scope="module")
def server(start_server: Any, server_env: dict[str, str]) -> Any:
    return start_server({**server_env, "CDE_API_KEYS": "[cli-key]"})


def cde(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args), debug=False)
    out, err = capsys.readouterr()
    return code, out, err


def test_server_cli_tasks_ls_show_cancel(server: Any, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDE_API_KEY", "cli-key")
    with server.client(headers={"X-API-Key": "cli-key"}) as client:
        done = client.post("/test/slow", json={"steps": 3, "delay_s": 0.01}).json()["id"]
        long = client.post("/test/slow", json={"steps": 1000, "delay_s": 0.05}).json()["id"]

    code, out, _ = cde(capsys, "tasks", "show", done, "--url", server.url, "--wait", "--json")
    assert code == 0 and json.loads(out)["status"] == "succeeded"

    code, out, _ = cde(capsys, "tasks", "ls", "--url", server.url, "--json", "--kind", "test.slow")
    assert code == 0 and {done, long} <= {t["id"] for t in json.loads(out)}
    code, out, _ = cde(capsys, "tasks", "ls", "--url", server.url)
    assert code == 0 and "test.slow" in out

    code, out, _ = cde(capsys, "tasks", "cancel", long, "--url", server.url)
    assert code == 0 and long in out
    code, out, _ = cde(capsys, "tasks", "show", long, "--url", server.url, "--wait")
    assert code == 1 and "cancelled" in out  # --wait exits non-zero unless the task succeeded

    code, _, err = cde(capsys, "tasks", "cancel", done, "--url", server.url)
    assert code == 1 and "already succeeded" in err and len(err.strip().splitlines()) == 1
    code, _, err = cde(capsys, "tasks", "show", "nope", "--url", server.url)
    assert code == 1 and "no task 'nope'" in err


def test_server_cli_reports_auth_and_connection_errors(server: Any, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDE_API_KEY", raising=False)
    code, _, err = cde(capsys, "tasks", "ls", "--url", server.url, "--api-key", "wrong")
    assert code == 1 and "invalid API key (HTTP 401)" in err
    code, _, err = cde(capsys, "tasks", "ls", "--url", "http://127.0.0.1:9")
    assert code == 1 and "cannot reach the cde server" in err and "cde serve" in err


def test_server_cli_shell_commands_and_completion(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cde(capsys, "plugins", "--json")
    assert code == 0 and "plugins" in json.loads(out)
    code, out, _ = cde(capsys, "config", "show", "--json")
    assert code == 0 and any(v["key"] == "server.task_store" for v in json.loads(out)["values"])
    code, out, _ = cde(capsys, "--help")
    assert code == 0 and "--install-completion" in out
    for command in ("serve", "dev", "tasks"):
        assert command in out
    code, out, _ = cde(capsys, "serve", "--help")
    assert code == 0 and "--reload" in out and "--port" in out


def test_server_cde_serve_runs_the_api(server_env: dict[str, str], tmp_path: Path) -> None:
    """`cde serve` as a user runs it: the console script, config from the environment."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cde_script = Path(sys.executable).with_name("cde")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(cde_script), "serve", "--port", str(port), "--log-level", "warning"],
                                   env={**server_env, "CDE_SERVER__HOST": "127.0.0.1"}, cwd=tmp_path,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"cde serve did not come up:\n{log.read_text()[-2000:]}")
                time.sleep(0.1)
        assert health.status_code == 200 and health.json()["task_store"] == "memory"
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()["info"]["title"] == "cde"
    finally:
        process.terminate()
        process.wait(timeout=30)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells how it ended
    assert process.returncode in (0, -signal.SIGTERM), log.read_text()[-2000:]
    assert "Traceback" not in log.read_text()
