"""The whole REST API, every installed plugin loaded, against its own OpenAPI schema (schemathesis).

The real app (``cde serve``'s factory) runs under uvicorn on a loopback port with a throwaway lake and
an in-memory task store; schemathesis runs every check in every phase (coverage, fuzzing, stateful)
with a bounded number of examples and a fixed seed. Any 5xx, response that breaks its schema, valid
request refused or invalid request accepted fails the test, for stage routes as for cde-server's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = "25"
SEED = "20261129"
#: per-operation exceptions (why: see the file), shared with `nox -s api_fuzz`
CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory,
            start_api: Callable[..., AbstractContextManager[str]]) -> Iterator[str]:
    """``cde serve``'s app with every installed plugin, in-memory tasks, no API keys, no plugin filter."""
    root = tmp_path_factory.mktemp("api-all-plugins")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDE_")}
    env.update({"CDE_DATA_ROOT": str(root / "lake"), "CDE_TASK_STORE": "memory"})
    with start_api(env, root) as url:
        yield url


def test_api_with_all_plugins_passes_schemathesis(api_url: str, tmp_path: Path) -> None:
    """No 5xx, no schema violation, no valid request refused, no invalid one accepted."""
    pytest.importorskip("schemathesis")
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("schemathesis CLI not installed")
    paths = set(httpx.get(f"{api_url}/openapi.json", timeout=10).json()["paths"])
    # every stage contributed its routes, so the run covers them all
    assert {"/download", "/bars/aggregate", "/features/compute", "/backtest/runs"} <= paths
    command = [exe, "--config-file", str(CONFIG), "run", f"{api_url}/openapi.json", "--checks", "all",
               "--max-examples", MAX_EXAMPLES, "--workers", "2", "--seed", SEED,
               "--suppress-health-check", "too_slow", "--request-timeout", "20"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-8000:]
    generated = re.search(r"(\d+) generated", output)
    assert generated and int(generated.group(1)) > 500, output[-3000:]
    print(output[output.find("SUMMARY"):])
