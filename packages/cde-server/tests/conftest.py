"""Fixtures for cde-server tests: a real server in a subprocess, a private Redis key prefix."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cde_core.testing.ports import free_port

HARNESS = Path(__file__).with_name("server_harness.py")
REDIS_URL = os.environ.get("CDE_TEST_REDIS", "redis://127.0.0.1:6379/0")
#: a hang guard only: tests poll until done and fail after this, they never assert on speed
DEADLINE_S = 60.0


def redis_available() -> bool:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False
    return True


class LiveServer:
    """The test harness app under uvicorn on a loopback port, in its own process."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> LiveServer:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, str(HARNESS), "--port", str(self.port)],
                                            env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code in (200, 503):
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not come up:\n{self.log.read_text()[-3000:]}")

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, **kwargs)

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, exactly like a crash or an OOM kill."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lake")


@pytest.fixture(scope="module")
def server_env(lake_root: Path) -> dict[str, str]:
    """Environment for a harness server: only cde-server's own plugin plus the test plugin."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDE_")}
    env.update({"CDE_LOAD_PLUGINS": "server", "CDE_DATA_ROOT": str(lake_root), "CDE_TASK_STORE": "memory"})
    return env


@pytest.fixture(scope="module")
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``start_server(env)`` → a started LiveServer; servers live for the test module (starting one
    costs seconds of imports) and are stopped after it."""
    servers: list[LiveServer] = []
    logs = tmp_path_factory.mktemp("server-logs")

    def start(env: dict[str, str]) -> LiveServer:
        server = LiveServer(env, logs / f"server-{len(servers)}.log")
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A Redis task store URL with a key prefix private to this test; its keys are deleted after."""
    if not redis_available():
        pytest.skip(f"no Redis at {REDIS_URL}")
    from cde_server.tasks.redis_store import RedisTaskStore

    url = f"{REDIS_URL}?prefix=cde-test-{uuid.uuid4().hex[:10]}"
    yield url
    store = RedisTaskStore(url)
    store.wipe()
    store.close()


def wait_for(client: httpx.Client, task_id: str, *, until: Any, deadline_s: float = DEADLINE_S) -> dict[str, Any]:
    """Poll a task until ``until(task)`` holds; returns the task (fails after the hang guard)."""
    deadline = time.monotonic() + deadline_s
    while True:
        task = client.get(f"/tasks/{task_id}").json()
        if until(task):
            return task
        if time.monotonic() > deadline:
            pytest.fail(f"task never reached the expected state: {task}")
        time.sleep(0.02)


@pytest.fixture
def poll() -> Any:
    return wait_for


SCHEMATHESIS_MAX_EXAMPLES = "10"


def run_schemathesis(server: LiveServer, *extra: str) -> str:
    """schemathesis against the live schema: every check, all phases (incl. stateful), bounded
    examples, fixed seed; fails the test on any failure and returns the report."""
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if exe is None:
        pytest.skip("schemathesis CLI not installed")
    command = [exe, "run", f"{server.url}/openapi.json", "--checks", "all", "--max-examples",
               SCHEMATHESIS_MAX_EXAMPLES, "--workers", "1", "--seed", "20261129",
               "--suppress-health-check", "too_slow", *extra]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    counted = re.search(r"(\d+) generated", output)
    assert counted and int(counted.group(1)) > 100, output[-3000:]
    print(output[-1500:])
    return output


@pytest.fixture
def schemathesis_run() -> Any:
    """The bounded schemathesis run (skips when schemathesis is not installed)."""
    pytest.importorskip("schemathesis")
    return run_schemathesis
