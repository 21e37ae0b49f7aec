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
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = "25"
SEED = "20261129"
#: JSON Schema cannot compare two fields, so a body the schema allows may still break a cross-field
#: rule (aggregation's ``end`` before ``start``): 422 is the honest answer there, for that one operation
CONFIG = """
[[operations]]
include-path = "/bars/aggregate"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = ["2XX", "401", "403", "404", "409", "422", "429", "5XX"]
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``cde serve``'s app with every installed plugin, under uvicorn on a loopback port."""
    root = tmp_path_factory.mktemp("api-all-plugins")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDE_")}  # no plugin filter, no keys
    env.update({"CDE_DATA_ROOT": str(root / "lake"), "CDE_TASK_STORE": "memory"})
    port = _free_port()
    log = root / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory",
                                   "cde_server.api.app:app_from_environment", "--host", "127.0.0.1",
                                   "--port", str(port), "--log-level", "warning"],
                                  env=env, cwd=root, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
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


def test_api_with_all_plugins_passes_schemathesis(api_url: str, tmp_path: Path) -> None:
    """No 5xx, no schema violation, no valid request refused, no invalid one accepted."""
    pytest.importorskip("schemathesis")
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("schemathesis CLI not installed")
    paths = set(httpx.get(f"{api_url}/openapi.json", timeout=10).json()["paths"])
    # every stage contributed its routes, so the run covers them all
    assert {"/download", "/bars/aggregate", "/features/compute", "/backtest/runs"} <= paths
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [exe, "--config-file", str(config), "run", f"{api_url}/openapi.json", "--checks", "all",
               "--max-examples", MAX_EXAMPLES, "--workers", "2", "--seed", SEED,
               "--suppress-health-check", "too_slow", "--request-timeout", "20"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-8000:]
    generated = re.search(r"(\d+) generated", output)
    assert generated and int(generated.group(1)) > 500, output[-3000:]
    print(output[output.find("SUMMARY"):])
