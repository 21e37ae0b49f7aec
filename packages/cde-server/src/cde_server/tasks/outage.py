"""Telling a task store outage apart from a bug, and saying so once.

While Redis is down every store call fails the same way; logging each failure (the maintenance
tick runs five times a second) buries the log. :class:`StoreOutage` logs the first failure as one
warning, stays quiet while the store keeps failing, logs once when it answers again, and gives the
callers a back-off delay that grows while the outage lasts.
"""

from __future__ import annotations

import threading
import time

from loguru import logger


class StoreOutage:
    """Shared outage state of one task store (thread-safe)."""

    def __init__(self, store_name: str, *, first_delay_s: float = 0.2, max_delay_s: float = 5.0) -> None:
        self.store_name = store_name
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self._lock = threading.Lock()
        self._since: float | None = None
        self._delay = first_delay_s

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, exc: BaseException, doing: str) -> float:
        """Record a failed store call; returns how long to wait before the next attempt."""
        with self._lock:
            if self._since is None:
                self._since = time.monotonic()
                self._delay = self.first_delay_s
                logger.warning("{} task store unavailable ({}: {}) while {}; work goes on, results are "
                               "kept and written once it answers", self.store_name, type(exc).__name__,
                               (str(exc).splitlines() or [""])[0], doing)
            else:
                self._delay = min(self._delay * 2, self.max_delay_s)
            return self._delay

    def recovered(self) -> None:
        """Record a successful store call (logs the end of an outage once)."""
        if self._since is None:
            return
        with self._lock:
            if self._since is not None:
                logger.warning("{} task store answers again after {:.1f} s", self.store_name,
                               time.monotonic() - self._since)
                self._since = None
                self._delay = self.first_delay_s
