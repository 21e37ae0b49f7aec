"""Rich progress for ``cde download``: files, bytes, transfer rate and ETA."""

from __future__ import annotations

import threading
from types import TracebackType

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from cde_core.console import console
from cde_exchanges.download.models import FileOutcome


class RichTransferMonitor:
    """A :class:`~cde_exchanges.fetching.archive_fetcher.TransferMonitor` drawing one rich progress line."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._lock = threading.Lock()
        self._files = 0
        self._total = 0
        self._progress = Progress(TextColumn("[bold]download"), BarColumn(), DownloadColumn(),
                                  TransferSpeedColumn(), TimeRemainingColumn(),
                                  TextColumn("{task.fields[files]} files"), console=console,
                                  disable=not enabled)
        self._task = self._progress.add_task("download", total=None, files=0)

    def __enter__(self) -> RichTransferMonitor:
        self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._progress.stop()

    def expect_bytes(self, n: int) -> None:
        with self._lock:
            self._total += n
            self._progress.update(self._task, total=self._total)

    def advance_bytes(self, n: int) -> None:
        self._progress.advance(self._task, n)

    def file_done(self, outcome: FileOutcome) -> None:
        with self._lock:
            self._files += 1
            self._progress.update(self._task, files=self._files)
