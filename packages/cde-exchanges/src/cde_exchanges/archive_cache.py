"""Where verified zips and "no data that day" markers live: ``<data_root>/.cache/``.

A zip is trusted only with its ``.sha256`` sidecar, written after verification, so a zip left by a
killed download is never mistaken for a good one. A 404 is recorded as a small JSON marker with the
time it was checked; it is trusted for :data:`MISSING_TTL` (then asked again: daily files appear the
next day, monthly ones on the first Monday) unless the request says ``recheck_missing``.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cde_core.atomic import atomic_write_bytes, remove_stale_temps
from cde_exchanges.archive_files import ArchiveFile

MISSING_TTL = timedelta(days=1)


class ArchiveCache:
    def __init__(self, data_root: Path) -> None:
        self.root = Path(data_root) / ".cache"

    def zip_path(self, file: ArchiveFile) -> Path:
        return self.root / "archives" / file.exchange / file.rel_path

    def _sidecar(self, file: ArchiveFile) -> Path:
        path = self.zip_path(file)
        return path.with_name(path.name + ".sha256")

    def _missing(self, file: ArchiveFile) -> Path:
        return self.root / "missing" / file.exchange / (file.rel_path + ".json")

    def verified(self, file: ArchiveFile) -> str | None:
        """The sha256 of a cached, verified zip, or None."""
        sidecar, path = self._sidecar(file), self.zip_path(file)
        if sidecar.exists() and path.exists():
            return sidecar.read_text().strip() or None
        return None

    def mark_verified(self, file: ArchiveFile, sha256: str) -> None:
        atomic_write_bytes(self._sidecar(file), sha256.encode())
        with contextlib.suppress(FileNotFoundError):
            self._missing(file).unlink()

    def forget(self, file: ArchiveFile) -> None:
        for path in (self._sidecar(file), self.zip_path(file)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def mark_missing(self, file: ArchiveFile, url: str) -> None:
        body = {"url": url, "checked_at": datetime.now(UTC).isoformat()}
        atomic_write_bytes(self._missing(file), json.dumps(body).encode())

    def known_missing(self, file: ArchiveFile, *, now: datetime | None = None) -> bool:
        path = self._missing(file)
        if not path.exists():
            return False
        try:
            checked = datetime.fromisoformat(json.loads(path.read_text())["checked_at"])
        except (ValueError, KeyError):
            return False
        return (now or datetime.now(UTC)) - checked < MISSING_TTL

    def clean_partial(self) -> int:
        """Remove temporary files of killed downloads."""
        return remove_stale_temps(self.root)
