"""Progress reporting and cooperative cancellation shared by the CLI, the API and executors.

Long work takes a ``progress(fraction, message)`` callback (fraction in [0, 1]) and an optional
:class:`CancelToken`. The CLI renders progress with rich; the task manager stores it on the task.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from cde_core.errors import CancelledError

ProgressCallback = Callable[[float, str], None]


def no_progress(fraction: float, message: str) -> None:
    """A progress callback that ignores updates."""


class CancelToken:
    """A flag that a user sets to stop work between units; work polls it, never is killed mid-write."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self, where: str | None = None) -> None:
        if self._event.is_set():
            raise CancelledError("work cancelled", where=where)


def scaled(progress: ProgressCallback, start: float, stop: float) -> ProgressCallback:
    """Map a sub-step's 0..1 progress into ``[start, stop]`` of the parent's progress."""

    def report(fraction: float, message: str) -> None:
        progress(start + (stop - start) * min(max(fraction, 0.0), 1.0), message)

    return report
