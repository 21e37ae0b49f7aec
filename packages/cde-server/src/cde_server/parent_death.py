"""A child process that must not outlive the process that started it, even when that one is SIGKILLed.

A task run in its own process (``pool="process"``) or the demo's archive server keep running after
their parent dies by SIGKILL — nothing else tells them. A task process would go on writing the lake
while the restarted server re-runs the same task (run twice); an archive server would hold its port.
On Linux the kernel can signal the child when its parent dies (``PR_SET_PDEATHSIG``); elsewhere the
parent's own clean-up is all there is.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGKILL, *, parent_pid: int | None = None) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent dies. With ``parent_pid`` (the pid
    the parent had when it started us), a parent that died before this call ends us at once too."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
    if parent_pid is not None and os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)
