"""Cross-package test helpers: run the real `cde` CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

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
