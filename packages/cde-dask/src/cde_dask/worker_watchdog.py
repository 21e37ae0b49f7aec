"""Fails a run whose cluster has lost every worker, instead of waiting for results forever.

A Dask client blocked in ``as_completed`` waits indefinitely when no worker is left to run the jobs
(workers killed, a cluster scaled to zero, nannies unable to restart them). This watchdog notices
that the scheduler has reported no worker for ``timeout_s`` and wakes the waiting run up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distributed import Client


class WorkerWatchdog:
    """Polls the scheduler's worker list; after ``timeout_s`` without a worker it calls ``on_lost`` once."""

    def __init__(self, client: Client, on_lost: Callable[[], None], timeout_s: float, poll_s: float) -> None:
        self.client = client
        self.on_lost = on_lost
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.tripped = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _has_workers(self) -> bool:
        try:
            return bool(self.client.nthreads())
        except Exception:  # the scheduler itself is unreachable: no worker can deliver either
            return False

    def _watch(self) -> None:
        last_seen = time.monotonic()
        while not self._stop.wait(self.poll_s):
            if self._has_workers():
                last_seen = time.monotonic()
            elif time.monotonic() - last_seen >= self.timeout_s:
                self.tripped = True
                self.on_lost()
                return

    def __enter__(self) -> WorkerWatchdog:
        self._thread = threading.Thread(target=self._watch, name="cde-dask-workers", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
