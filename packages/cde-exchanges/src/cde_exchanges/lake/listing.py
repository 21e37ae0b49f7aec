"""Listing the files of a lake tree: a glob on a local disk, one recursive listing in a bucket.

A glob such as ``exchange=*/market=*/symbol=*/date=*/part-0.parquet`` walks a local tree cheaply, but
in a bucket ``ObjectPath.glob`` asks the store once per folder level and value — a request per day
over years of days. :func:`matching_files` lists the whole prefix once instead (S3 returns up to 1000
keys per request) and matches the pattern on the keys, keeping each object's size and modification
time (what :class:`~cde_exchanges.lake.inventory_cache.InventoryCache` keys its footers by, so a warm
rebuild costs the listing only).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from cde_core.lake_location import LakePath
from cde_core.object_store import ObjectPath


@dataclass(frozen=True)
class ListedFile:
    """A file found by :func:`matching_files`: its path and a stamp that changes when it is rewritten."""

    path: LakePath
    #: (size, mtime in ns) from the bucket listing; None on a local disk, where a glob gives no stat
    #: and a caller that needs one stats the file itself
    stamp: tuple[int, int] | None = None


def matching_files(base: LakePath, pattern: str) -> list[ListedFile]:
    """The files under ``base`` whose relative path matches ``pattern`` (``/``-separated, one glob per
    level, no ``**``), sorted by path; hidden names (temporaries) only where the pattern asks for them."""
    if not isinstance(base, ObjectPath):
        return [ListedFile(path) for path in sorted(base.glob(pattern))]
    levels = pattern.split("/")
    found = []
    for path, stat in base.walk_stats():  # one recursive listing with sizes and times
        names = path.key[len(base.key) + 1:].split("/")
        if len(names) == len(levels) and all(_match(name, level) for name, level in zip(names, levels, strict=True)):
            found.append(ListedFile(path, (stat.st_size, int(stat.st_mtime * 1e9))))
    return sorted(found, key=lambda f: str(f.path))


def _match(name: str, level: str) -> bool:
    # pathlib's glob: a wildcard does not match a leading "." (hidden temporaries stay unlisted)
    if name.startswith(".") and not level.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, level)


def visible_files(base: LakePath) -> list[tuple[LakePath, tuple[str, ...]]]:
    """Every file under ``base`` that a dataset reader takes as data, with its path's parts below ``base``:
    names starting with ``.`` or ``_`` (temporaries, markers), and everything below such a folder, are
    skipped by pyarrow, DuckDB and Polars scans and are left out here too."""
    if isinstance(base, ObjectPath):
        listed = [(path, tuple(path.key[len(base.key) + 1:].split("/"))) for path, _ in base.walk_stats()]
    elif base.is_dir():
        listed = [(path, path.relative_to(base).parts) for path in base.rglob("*") if not path.is_dir()]
    else:
        return []
    return sorted(((path, parts) for path, parts in listed if not any(p[:1] in (".", "_") for p in parts)),
                  key=lambda item: str(item[0]))

