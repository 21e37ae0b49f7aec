"""Open the single CSV inside an archive zip, whatever its name (names differ between archives)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import IO

from cde_core.errors import DataError


def single_member(archive: zipfile.ZipFile, *, where: str) -> zipfile.ZipInfo:
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) != 1:
        raise DataError(f"expected one file in the zip, found {len(members)}", where=where,
                        hint="the archive layout changed; report it")
    return members[0]


def open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise DataError(f"not a valid zip: {exc}", where=str(path),
                        hint="delete it and download again") from exc


def read_head(archive: zipfile.ZipFile, member: zipfile.ZipInfo, size: int = 4096) -> bytes:
    with archive.open(member) as fh:
        return fh.read(size)


def open_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> IO[bytes]:
    return archive.open(member)
