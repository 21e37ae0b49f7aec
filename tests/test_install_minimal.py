"""Install only what you need: a venv with cde-core + cde-server + cde-bars runs `cde plugins`, lists
exactly those distributions' plugins, and says what to install for the stages it lacks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.e2e
def test_a_minimal_install_lists_itself_and_names_what_to_install(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--python", sys.executable, str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    subprocess.run([uv, "pip", "install", "--python", str(python), str(ROOT / "packages/cde-core"),
                    str(ROOT / "packages/cde-server"), str(ROOT / "packages/cde-bars")], check=True,
                   capture_output=True, timeout=600)
    cde = str(venv / "bin" / "cde")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([cde, *args], capture_output=True, text=True, check=False, timeout=120,
                              cwd=tmp_path)

    result = run("plugins", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {p["distribution"] for p in report["plugins"]} == {"cde-core", "cde-server", "cde-bars"}
    assert all(p["status"] == "ok" for p in report["plugins"])

    features = run("features", "list")
    assert features.returncode == 1 and "Traceback" not in features.stderr
    assert "`cde features` comes with cde-features, which is not installed — pip install cde-features" \
        in features.stderr

    demo = run("demo", "--data-root", str(tmp_path / "demo"))
    assert demo.returncode == 1 and "Traceback" not in demo.stderr
    assert "pip install cde-backtest cde-exchanges cde-features" in demo.stderr
    assert not (tmp_path / "demo").exists()  # refused before creating anything
