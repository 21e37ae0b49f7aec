"""Cross-package test helpers: run the real `cde` CLI in a subprocess, or the real app in-process with
throwaway plugins installed."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cde_core.testing.ports import free_port

CliRunner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_cde(tmp_path: Path) -> CliRunner:
    """Run ``cde ARGS`` in a fresh process (real entry points, real config loading) in tmp_path."""

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("CDE_")}
        full_env["CDE_DATA_ROOT"] = str(tmp_path / "lake")
        full_env.update(env or {})
        return subprocess.run([sys.executable, "-m", "cde_server.cli.main", *args], capture_output=True,
                              text=True, env=full_env, cwd=cwd or tmp_path, timeout=timeout, check=False)

    return run


@contextlib.contextmanager
def live_api(env: dict[str, str], cwd: Path) -> Iterator[str]:
    """`cde serve`'s app (every installed plugin) under uvicorn on a free loopback port; yields its URL
    once /health answers, and stops it afterwards. Its log is ``cwd/server.log``."""
    import httpx

    port = free_port()
    log = cwd / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory",
                                   "cde_server.api.app:app_from_environment", "--host", "127.0.0.1",
                                   "--port", str(port), "--log-level", "warning"],
                                  env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"server did not come up:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="session")
def start_api() -> Callable[..., contextlib.AbstractContextManager[str]]:
    """``with start_api(env, cwd) as url:`` — see :func:`live_api`."""
    return live_api


@pytest.fixture
def plugin_app(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path, Path], contextlib.AbstractContextManager[Any]]:
    """``with plugin_app(site, lake) as client``: the real app on ``lake`` under a fresh plugin host that
    also loads the throwaway distributions installed under ``site``; the previous host comes back after."""
    from fastapi.testclient import TestClient

    from cde_core.config import CdeConfig
    from cde_core.plugins import PluginHost, reset_plugins
    from cde_server.api.app import create_app

    @contextlib.contextmanager
    def start(site: Path, lake: Path) -> Iterator[Any]:
        monkeypatch.syspath_prepend(str(site))
        previous = reset_plugins(PluginHost())
        try:
            with TestClient(create_app(CdeConfig(data_root=lake)), raise_server_exceptions=False) as client:
                yield client
        finally:
            reset_plugins(previous)

    return start
