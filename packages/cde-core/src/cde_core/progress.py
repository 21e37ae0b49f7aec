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


class _Monotonic:
    """See :func:`monotonic`."""

    def __init__(self, progress: ProgressCallback) -> None:
        self.progress = progress
        self.high = 0.0
        self.finished = False
        self.lock = threading.Lock()

    def __call__(self, fraction: float, message: str) -> None:
        if fraction != fraction:  # NaN
            return
        with self.lock:  # reports from worker threads reach the sink in the order they were decided
            if self.finished:
                return
            self.high = min(max(float(fraction), self.high), 1.0)
            self.finished = self.high >= 1.0
            self.progress(self.high, message)


def monotonic(progress: ProgressCallback) -> ProgressCallback:
    """``progress`` as a user must see it: never going back, and reaching 1.0 exactly once.

    A stage may report from two sources at once (the executor's count of finished jobs and the jobs'
    own finer fractions, from worker threads), then a final "done": the bar jumped back from 67 % to
    33 % and the API showed 100 % twice. A report below the highest so far keeps the highest fraction
    (its message still shows); reports after 1.0 are dropped. Wrapping twice is a no-op.
    """
    return progress if isinstance(progress, _Monotonic) else _Monotonic(progress)


def scaled(progress: ProgressCallback, start: float, stop: float) -> ProgressCallback:
    """Map a sub-step's 0..1 progress into ``[start, stop]`` of the parent's progress."""

    def report(fraction: float, message: str) -> None:
        progress(start + (stop - start) * min(max(fraction, 0.0), 1.0), message)

    return report
