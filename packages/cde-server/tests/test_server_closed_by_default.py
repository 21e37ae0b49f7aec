"""Closed by default (issue 19, item 4): `cde serve` binds a non-loopback address only with API keys,
or with an explicit --insecure-no-auth; empty keys are invalid; a bad key names the environment
variable it came from; the compose file requires a key and publishes on loopback.

Each `cde serve` runs as a real process: a server that starts when it should have refused is
caught answering /health and fails the test (it is then killed)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from cde_core.testing.ports import free_port

#: a hang guard only, never a speed assertion
DEADLINE_S = 60.0
CDE = [sys.executable, "-m", "cde_server.cli.main"]
COMPOSE = Path(__file__).parents[3] / "deploy" / "docker-compose.yml"


def serve(tmp_path: Path, keys: str, *args: str) -> tuple[str, int | None, str]:
    """Run `cde serve` on a free port; ("refused", rc, stderr) if it exits, ("served", None, stderr)
    once it answers /health (then it is stopped)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDE_")}
    env.update({"CDE_API_KEYS": keys, "CDE_DATA_ROOT": str(tmp_path / "lake"), "CDE_LOAD_PLUGINS": "server"})
    log = tmp_path / f"serve-{port}.log"
    with log.open("wb") as err:
        process = subprocess.Popen([*CDE, "serve", "--port", str(port), *args], env=env, cwd=tmp_path,
                                   stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + DEADLINE_S
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return "refused", process.returncode, log.read_text()
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                return "served", None, log.read_text()
            except httpx.TransportError:
                time.sleep(0.1)
        pytest.fail(f"cde serve neither refused nor served:\n{log.read_text()[-2000:]}")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.mark.parametrize("keys", ["[]", '[""]', "['  ']"])
def test_all_interfaces_without_keys_is_refused(tmp_path: Path, keys: str) -> None:
    outcome, code, stderr = serve(tmp_path, keys, "--host", "0.0.0.0")
    assert outcome == "refused" and code != 0, stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr
    if keys == "[]":
        assert "refusing to serve 0.0.0.0 without API keys" in stderr and "--insecure-no-auth" in stderr
    else:
        assert "is empty" in stderr and "environment variable CDE_API_KEYS" in stderr


def test_insecure_no_auth_serves_with_a_warning(tmp_path: Path) -> None:
    outcome, _, stderr = serve(tmp_path, "[]", "--host", "0.0.0.0", "--insecure-no-auth")
    assert outcome == "served" and "without API keys" in stderr, stderr


def test_all_interfaces_with_a_key_serve_and_loopback_needs_none(tmp_path: Path) -> None:
    assert serve(tmp_path, "[k-0123456789]", "--host", "0.0.0.0")[0] == "served"
    assert serve(tmp_path, "[]", "--host", "127.0.0.1")[0] == "served"


def test_a_key_that_reads_as_a_number_blames_the_environment_variable(tmp_path: Path) -> None:
    outcome, code, stderr = serve(tmp_path, "[12345]")
    assert outcome == "refused" and code != 0
    assert "environment variable CDE_API_KEYS" in stderr and "(defaults)" not in stderr, stderr
    assert '\'["12345"]\'' in stderr, stderr


def test_compose_requires_a_key_and_publishes_on_loopback() -> None:
    api = yaml.safe_load(COMPOSE.read_text())["services"]["api"]
    # ${VAR:?message}: compose refuses to start when the variable is unset or empty
    assert api["environment"]["CDE_API_KEYS"].startswith("${CDE_API_KEYS:?"), api["environment"]
    assert all(str(port).startswith("${CDE_BIND:-127.0.0.1}:") for port in api["ports"]), api["ports"]
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        # the object store's credentials are given, so the API key is what compose misses
        env = {k: v for k, v in os.environ.items() if k != "CDE_API_KEYS"}
        env.update({"CDE_S3_ACCESS_KEY": "test-user", "CDE_S3_SECRET_KEY": "test-secret-1"})
        done = subprocess.run([docker, "compose", "-f", str(COMPOSE), "config"], capture_output=True, text=True,
                              env=env, check=False)
        assert done.returncode != 0 and "CDE_API_KEYS" in done.stderr, done.stderr
