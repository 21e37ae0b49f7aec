"""Atomic file writes: write to a hidden temporary name in the same folder, fsync, rename.

A reader (or a resumed run) therefore sees either the previous file or the complete new one, never
a half-written file under the final name. Temporary names start with ``.`` so pyarrow, DuckDB and
Polars dataset scans skip them.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX requires syncing the directory entry)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_path_for(target: Path) -> Path:
    return target.with_name(f".{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``target`` atomically.

    If the body raises, the temporary file is removed and ``target`` keeps its previous content.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(target)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write_bytes(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_with(target: Path, writer: Callable[[Path], None]) -> None:
    """Run ``writer(tmp_path)`` and move its output into place atomically."""
    with atomic_path(target) as tmp:
        writer(tmp)


def remove_stale_temps(folder: Path) -> int:
    """Delete temporary files left by a killed writer; returns how many were removed."""
    removed = 0
    if not folder.exists():
        return 0
    for path in folder.rglob(".*.tmp-*"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
    return removed
