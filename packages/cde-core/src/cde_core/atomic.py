"""Atomic file writes: a reader never sees a half-written file under its final name.

On a local disk: write to a hidden temporary name in the same folder, fsync, rename. In a bucket
(:class:`cde_core.object_store.ObjectPath`), which has no rename: the writer fills a local temporary
file, it is uploaded to a hidden temporary key beside the target, and a server-side copy makes the
target appear whole in one step (S3 creates an object atomically); the temporary key is then
deleted. Temporary names start with ``.`` so pyarrow, DuckDB and Polars dataset scans — and the
lake's own listings — skip them; a writer killed at any point leaves at most such a hidden name,
which :func:`remove_stale_temps` clears on the next run.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from cde_core.object_store import ObjectPath

#: a hidden temporary object older than this is a dead writer's (an upload-and-copy takes seconds)
STALE_OBJECT_AGE_S = 3600.0


def fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX requires syncing the directory entry)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_name_for(name: str) -> str:
    return f".{name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def temp_path_for(target: Path) -> Path:
    return target.with_name(temp_name_for(target.name))


@contextlib.contextmanager
def atomic_path(target: Path | ObjectPath) -> Iterator[Path]:
    """Yield a local temporary path to write; on success it replaces ``target`` atomically.

    If the body raises, the temporary file is removed and ``target`` keeps its previous content.
    """
    if isinstance(target, ObjectPath):
        with _atomic_object(target) as tmp:
            yield tmp
        return
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


_UPLOAD_PREFIX = "cde-upload-"
_swept_uploads = False


def _sweep_dead_uploads() -> None:
    """Once per process: remove the local scratch folders of uploads whose process is gone (a writer
    SIGKILLed mid-commit cannot clean up after itself). A live pid's folder is never touched."""
    global _swept_uploads
    if _swept_uploads:
        return
    _swept_uploads = True
    import shutil

    for folder in Path(tempfile.gettempdir()).glob(f"{_UPLOAD_PREFIX}*-*"):
        if _writer_is_gone(folder.name.removeprefix(_UPLOAD_PREFIX).split("-", 1)[0]):
            shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _atomic_object(target: ObjectPath) -> Iterator[Path]:
    _sweep_dead_uploads()
    with tempfile.TemporaryDirectory(prefix=f"{_UPLOAD_PREFIX}{os.getpid()}-") as scratch:
        local = Path(scratch) / target.name
        yield local
        staged = target.with_name(temp_name_for(target.name))
        try:
            staged.upload_from(local)
            staged.move_to(target)
        finally:
            with contextlib.suppress(OSError):
                staged.unlink(missing_ok=True)


def atomic_write_bytes(target: Path | ObjectPath, data: bytes) -> None:
    if isinstance(target, ObjectPath):
        target.write_bytes(data)  # one PUT: the object appears whole or not at all
        return
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_with(target: Path | ObjectPath, writer: Callable[[Path], None]) -> None:
    """Run ``writer(tmp_path)`` and move its output into place atomically."""
    with atomic_path(target) as tmp:
        writer(tmp)


def remove_stale_temps(folder: Path | ObjectPath) -> int:
    """Delete temporary files left by a killed writer; returns how many were removed. On a local disk
    only those whose writer process is gone (:func:`_writer_is_gone`): a lock keeps out other runs of
    the same command, not a writer that takes none (``cde import`` beside a ``cde download`` of the
    same symbol), whose staged files removed here made it fail. In a bucket only temporaries older
    than :data:`STALE_OBJECT_AGE_S` go: another machine may be mid-commit."""
    removed = 0
    if not folder.exists():
        return 0
    now = time.time()
    for path in folder.rglob(".*.tmp-*"):
        if isinstance(path, ObjectPath):
            with contextlib.suppress(FileNotFoundError):
                if now - path.stat().st_mtime < STALE_OBJECT_AGE_S:
                    continue
        elif not _writer_is_gone(_temp_writer_pid(path.name)):
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
    return removed


def _temp_writer_pid(name: str) -> str:
    """The writer's pid as :func:`temp_name_for` put it in a temporary's name (``.<name>.tmp-<pid>-<id>``)."""
    return name.rsplit(".tmp-", 1)[1].split("-", 1)[0]


def _writer_is_gone(pid_text: str) -> bool:
    """True when ``pid_text`` (from a temporary's name) is another process of this machine that has
    ended; never this process, a live one, or one of another user (not ours to judge)."""
    if not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive under another user
        return False
    return False


def remove_dead_writers_temps(folder: Path) -> int:
    """Delete the temporary files in ``folder`` (a local disk) whose writer process is gone, and only
    those: a writer that takes no lock (``cde import``) may run beside another live one, whose
    temporary file (``.<name>.tmp-<pid>-<id>``) must stay. Returns how many were removed."""
    removed = 0
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for name in names:
        if not name.startswith(".") or ".tmp-" not in name:
            continue
        if _writer_is_gone(_temp_writer_pid(name)):
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()
                removed += 1
    return removed

