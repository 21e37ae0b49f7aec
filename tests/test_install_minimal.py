"""Install only what you need: a venv with just cde-core + cde-server runs `cde plugins` and lists
exactly the plugins of those two distributions (no stage package is required to import)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.e2e
def test_core_and_server_alone_list_only_themselves(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--python", sys.executable, str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    subprocess.run([uv, "pip", "install", "--python", str(python), str(ROOT / "packages/cde-core"),
                    str(ROOT / "packages/cde-server")], check=True, capture_output=True, timeout=600)
    result = subprocess.run([str(venv / "bin" / "cde"), "plugins", "--json"], capture_output=True, text=True,
                            check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {p["distribution"] for p in report["plugins"]} == {"cde-core", "cde-server"}
    assert all(p["status"] == "ok" for p in report["plugins"])
