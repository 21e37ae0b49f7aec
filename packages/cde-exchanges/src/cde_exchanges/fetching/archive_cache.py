"""Where verified zips and "no data that day" markers live: the lake's local work folder
(:func:`cde_core.lake_location.local_work_dir`: ``<data_root>/.cache/`` for a local lake; for a bucket,
``$CDE_CACHE_DIR`` or the user cache folder — zips are never written into the bucket).

A zip is trusted only with its ``.sha256`` sidecar, written after verification, so a zip left by a
killed download is never mistaken for a good one; before reuse the fetcher re-hashes it against the
sidecar and the sidecar against the currently published checksum (the exchange may have republished
the file). A 404 is recorded as a small JSON marker with the
time it was checked; it is trusted for :data:`MISSING_TTL` (then asked again: daily files appear the
next day, monthly ones on the first Monday) unless the request says ``recheck_missing``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cde_core.atomic import atomic_write_bytes
from cde_core.errors import DataError
from cde_core.lake_location import LakePath, lake_location, local_work_dir
from cde_exchanges.formats.archive_files import ArchiveFile

MISSING_TTL = timedelta(days=1)
HASH_CHUNK = 1 << 20


class ArchiveCache:
    def __init__(self, data_root: LakePath | str) -> None:
        self.root: Path = local_work_dir(lake_location(data_root))

    def zip_path(self, file: ArchiveFile) -> Path:
        return self.root / "archives" / file.exchange / file.rel_path

    def _sidecar(self, file: ArchiveFile) -> Path:
        path = self.zip_path(file)
        return path.with_name(path.name + ".sha256")

    def _missing(self, file: ArchiveFile) -> Path:
        return self.root / "missing" / file.exchange / (file.rel_path + ".json")

    def verified(self, file: ArchiveFile) -> str | None:
        """The sha256 recorded when the cached zip was verified, or None (no zip, no or bad sidecar)."""
        sidecar, path = self._sidecar(file), self.zip_path(file)
        if not (sidecar.exists() and path.exists()):
            return None
        digest = sidecar.read_text().strip().lower()
        return digest if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest) else None

    def content_sha256(self, file: ArchiveFile) -> str:
        """The sha256 of the cached zip as it is on disk now."""
        path = self.zip_path(file)
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as fh:
                while chunk := fh.read(HASH_CHUNK):
                    digest.update(chunk)
        except OSError as exc:
            raise self._unusable(path, exc) from None
        return digest.hexdigest()

    def mark_verified(self, file: ArchiveFile, sha256: str) -> None:
        atomic_write_bytes(self._sidecar(file), sha256.encode())
        with contextlib.suppress(FileNotFoundError):
            self._missing(file).unlink()

    def forget(self, file: ArchiveFile) -> None:
        """Remove the cached zip and its sidecar (the sidecar first: a zip without one is never trusted)."""
        for path in (self._sidecar(file), self.zip_path(file)):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise self._unusable(path, exc) from None

    @staticmethod
    def _unusable(path: Path, exc: OSError) -> DataError:
        return DataError(f"the cached archive cannot be checked or replaced ({exc.strerror or exc})",
                         where=str(path), hint=f"remove {path} by hand, then run the download again")

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

    def clean_partial(self, file: ArchiveFile) -> int:
        """Remove what killed downloads of ``file`` left (temporary zip, sidecar or marker).

        Only for a caller holding ``file``'s symbol lock (:mod:`cde_exchanges.download.locks`): then
        no live run is writing them. Returns how many were removed."""
        zip_path, marker = self.zip_path(file), self._missing(file)
        patterns = [(zip_path.parent, f".{zip_path.name}.tmp-*"), (zip_path.parent, f".{zip_path.name}.sha256.tmp-*"),
                    (marker.parent, f".{marker.name}.tmp-*")]
        removed = 0
        for folder, pattern in patterns:
            for path in folder.glob(pattern) if folder.is_dir() else ():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
        return removed
