"""Turns a polled :class:`CancelToken` into an action while the caller is blocked waiting for jobs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType

from cde_core.progress import CancelToken


class CancelWatcher:
    """Polls ``token`` in a background thread and calls ``on_cancel`` once when it is set.

    The executor's caller blocks in ``as_completed`` until some job finishes, which may take minutes;
    cancelling the in-flight futures from here wakes it up at once instead of after the next job.
    """

    def __init__(self, token: CancelToken | None, on_cancel: Callable[[], None], poll_s: float) -> None:
        self.token = token
        self.on_cancel = on_cancel
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _watch(self) -> None:
        assert self.token is not None
        while not self._stop.wait(self.poll_s):
            if self.token.cancelled:
                self.on_cancel()
                return

    def __enter__(self) -> CancelWatcher:
        if self.token is not None:
            self._thread = threading.Thread(target=self._watch, name="cde-dask-cancel", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
