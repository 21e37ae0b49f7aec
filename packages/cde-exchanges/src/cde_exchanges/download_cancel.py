"""A download's cancel request, visible inside extraction jobs wherever they run.

The task's :class:`~cde_core.progress.CancelToken` lives in the server's process; extraction jobs run
on the configured executor — threads, processes or a Dask cluster on the same file system — and
receive only picklable arguments. So the download service mirrors the token into a flag file
(:func:`mirrored`), and each job polls :class:`CancelFlag` between record batches: a cancel then stops
extraction within a batch, its open partitions aborted (never half-written), instead of after every
remaining file is extracted.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cde_core.errors import CancelledError
from cde_core.progress import CancelToken


@dataclass(frozen=True)
class CancelFlag:
    """Set once ``path`` exists; no path: never set."""

    path: str | None = None

    def raise_if_set(self, where: str) -> None:
        if self.path is not None and os.path.exists(self.path):
            raise CancelledError("download cancelled", where=where)


@contextlib.contextmanager
def mirrored(cancel: CancelToken | None, folder: Path, *, poll_s: float = 0.05) -> Iterator[CancelFlag]:
    """A flag file under ``folder`` that appears as soon as ``cancel`` is set, removed afterwards."""
    if cancel is None:
        yield CancelFlag()
        return
    folder.mkdir(parents=True, exist_ok=True)
    flag = folder / f"cancel-{uuid.uuid4().hex}"
    done = threading.Event()

    def watch() -> None:
        while not done.wait(poll_s):
            if cancel.cancelled:
                flag.touch()
                return

    watcher = threading.Thread(target=watch, name="cde-download-cancel", daemon=True)
    watcher.start()
    try:
        yield CancelFlag(str(flag))
    finally:
        done.set()
        watcher.join()
        flag.unlink(missing_ok=True)
