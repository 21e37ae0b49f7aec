"""The local archive server of the exchanges plugin, run as a child process of the demo.

The demo reaches it only through the public `cde exchanges serve-archive` command, so cde-server
imports no stage package; the child prints its URL on the first line of stdout.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from cde_core.errors import CdeError
from cde_server.parent_death import die_with_parent


def _terminate_with_parent() -> None:
    """Runs in the child before exec: on Linux, ask the kernel to SIGTERM it when the demo dies, even by
    SIGKILL, so a killed demo leaves no archive server behind (elsewhere the ``finally`` below does it)."""
    die_with_parent(signal.SIGTERM)


@contextlib.contextmanager
def served_archive(root: Path) -> Iterator[str]:
    """Serve ``root`` on a free loopback port for the duration of the block; yields the base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cde_server.cli.main", "exchanges", "serve-archive", "--root", str(root)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_terminate_with_parent)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            process.kill()
            error = (process.stderr.read() if process.stderr else "").strip().splitlines()
            raise CdeError("the local archive server did not start", where=str(root),
                           hint=error[-1] if error else "is cde-exchanges installed? (`cde plugins`)")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
