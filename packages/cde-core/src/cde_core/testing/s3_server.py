"""An S3-compatible server on loopback for tests: moto's standalone server in a child process.

The lake's object-store code is tested through the real client (pyarrow's ``S3FileSystem``) against a
real HTTP server speaking the S3 REST protocol, never against an in-process mock. Loaded as a pytest
plugin (``-p cde_core.testing.s3_server`` in the workspace's pytest options), it offers:

- ``s3_server`` (session): the running server — its endpoint and the environment a client or a
  ``cde`` subprocess needs (``AWS_ENDPOINT_URL``, region, dummy credentials);
- ``s3_lake_url`` (function): a fresh, empty bucket for this test, the AWS variables set in this
  process, and ``s3://<bucket>/lake`` to use as ``data_root``.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cde_core.testing.ports import free_port


@dataclass
class S3Server:
    """A running S3-compatible server and the environment that points clients at it."""

    endpoint: str
    process: subprocess.Popen[bytes]
    env: dict[str, str] = field(default_factory=dict)

    def create_bucket(self, name: str | None = None) -> str:
        """A new empty bucket (a unique name unless given)."""
        import pyarrow.fs as pafs

        bucket = name or f"cde-test-{uuid.uuid4().hex[:12]}"
        fs = pafs.S3FileSystem(endpoint_override=self.endpoint, scheme="http", region=self.env["AWS_REGION"],
                               access_key=self.env["AWS_ACCESS_KEY_ID"], secret_key=self.env["AWS_SECRET_ACCESS_KEY"],
                               allow_bucket_creation=True)
        fs.create_dir(bucket)
        return bucket


@contextlib.contextmanager
def running_s3_server(log_dir: Path) -> Iterator[S3Server]:
    """Start moto's server on a free loopback port, wait until it answers, stop it afterwards."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "moto-server.log").open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT)
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "cde-test", "AWS_SECRET_ACCESS_KEY": "cde-test-secret",
           "AWS_EC2_METADATA_DISABLED": "true"}
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"moto server exited: {(log_dir / 'moto-server.log').read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("moto server did not answer within 60 s")
            time.sleep(0.1)
        yield S3Server(endpoint=endpoint, process=process, env=env)
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        if process.poll() is None:
            process.kill()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with running_s3_server(tmp_path_factory.mktemp("s3-server")) as server:
        yield server


@pytest.fixture
def s3_lake_url(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """``s3://<fresh bucket>/lake`` with this process's AWS variables pointing at the test server
    (and a per-test local cache folder for zips and locks)."""
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CDE_CACHE_DIR", str(tmp_path / "cde-cache"))
    return f"s3://{s3_server.create_bucket()}/lake"


__all__ = ["S3Server", "running_s3_server", "s3_lake_url", "s3_server"]

