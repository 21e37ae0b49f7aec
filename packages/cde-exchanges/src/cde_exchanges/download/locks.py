"""One download per symbol of a lake tree at a time, across processes.

Two ``cde download`` runs on one lake (two terminals, or the CLI beside ``POST /download``) must not
break each other. Each run takes an OS file lock per symbol it downloads (per lake tree, exchange,
market and kline interval: the unit whose partitions and archive files only that symbol's download
writes), under ``locks/`` of the lake's local work folder (``<data_root>/.cache/locks/`` for a local
lake; :func:`cde_core.lake_location.local_work_dir` for a bucket). Different symbols proceed in parallel;
a symbol held by another run is waited for, and the days that run wrote are then skipped instead of
done twice.

For a lake in a bucket the lock is per machine: runs on two machines do not see each other's locks.
They may then download the same symbol-day twice, which is harmless: a partition is committed as one
whole-object replacement (:func:`cde_core.atomic.atomic_path`) and both runs write the same rows from
the same archive, so the last commit wins with identical content.

The kernel releases a lock when its process dies, SIGKILL included, so a lock never outlives its run.
That is also what makes start-up cleanup safe: whoever holds a symbol's lock owns every temporary file
of that symbol's partitions and archive files, so the ones it finds were left by a dead run.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout

from cde_core.atomic import atomic_write_bytes
from cde_core.lake_location import local_work_dir
from cde_exchanges.lake.targets import LakeTarget


class SymbolLocks:
    """The symbol locks of one :class:`LakeTarget` that this run holds; a context manager that releases
    whatever is still held on exit (also on errors)."""

    def __init__(self, target: LakeTarget) -> None:
        self.target = target
        self.root = local_work_dir(target.lake.root) / "locks"
        self._held: dict[str, FileLock] = {}

    def path(self, symbol: str) -> Path:
        """``.cache/locks/<the symbol's lake folder>.lock``: one name per tree, exchange, market, interval
        and symbol, exactly the partitions the lock guards."""
        folder = Path(self.target.symbol_dir(symbol).relative_to(self.target.lake.root).as_posix())
        return self.root / folder.parent / f"{folder.name}.lock"

    def try_take(self, symbol: str) -> bool:
        """Take ``symbol``'s lock if nobody holds it; never waits."""
        if symbol in self._held:
            return True
        path = self.path(symbol)
        lock = FileLock(path)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return False
        self._held[symbol] = lock
        note = self._owner_file(path)
        for stale in note.parent.glob(f".{note.name}.tmp-*"):  # a run killed while writing its note
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        owner = {"pid": os.getpid(), "host": socket.gethostname(),
                 "since": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}
        atomic_write_bytes(note, json.dumps(owner).encode())
        return True

    def holder(self, symbol: str) -> str:
        """Who holds ``symbol``'s lock, as far as its owner note says (for the waiting line)."""
        try:
            owner = json.loads(self._owner_file(self.path(symbol)).read_text())
            return f"pid {owner['pid']} on {owner['host']}, since {owner['since']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "owner unknown"

    def release(self, symbols: list[str]) -> None:
        for symbol in symbols:
            lock = self._held.pop(symbol, None)
            if lock is not None:
                with contextlib.suppress(OSError):
                    self._owner_file(self.path(symbol)).unlink()  # a note never names a finished run
                lock.release()

    @staticmethod
    def _owner_file(path: Path) -> Path:
        return path.with_name(path.name + ".owner")

    def __enter__(self) -> SymbolLocks:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release(list(self._held))
