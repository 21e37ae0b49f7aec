"""Where bars live in the lake and how a symbol's bar chain records its progress.

Layout::

    <root>/bars/spec=<spec-id>/exchange=…/market=…/symbol=…/month=YYYY-MM/part-0.parquet
    <root>/bars/spec=<spec-id>/exchange=…/market=…/symbol=…/_manifest.json

A month partition holds the bars whose *first trade* falls in that UTC month. Months are few files
(a year of 1-minute bars is 12 files), cheap to rewrite, and a natural resume unit. Each complete
month's provenance carries the exact builder state at a day boundary (``resume``), so a re-run
continues from the last complete month instead of starting over. ``_manifest.json`` (ignored by
Parquet dataset scans: leading underscore) records the inputs of the last finished run, so an
identical re-run is a no-op.

The same code serves a folder and a bucket (``data_root: s3://bucket/prefix``): paths are
:data:`cde_core.lake_location.LakePath`; in a bucket, a symbol's months come from one listing and
the day files' provenance is read concurrently (each read is a round trip to the store).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

from cde_core.atomic import atomic_write_bytes
from cde_core.lake import PART_FILE, Lake
from cde_core.lake_location import LakePath
from cde_core.object_store import ObjectPath

MANIFEST = "_manifest.json"


def month_label(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


#: concurrent provenance reads per symbol in a bucket (round trips overlap; a disk needs none)
OBJECT_READ_THREADS = 8


def month_dir(symbol_dir: LakePath, month: str) -> LakePath:
    return symbol_dir / f"month={month}"


def month_partitions(symbol_dir: LakePath) -> dict[str, LakePath]:
    """Existing month partition files of one symbol, by month label, in order."""
    if isinstance(symbol_dir, ObjectPath):  # one listing instead of a request per month
        parts = {obj.parent.name: obj for obj, _ in symbol_dir.walk_files()
                 if obj.name == PART_FILE and obj.parent.parent == symbol_dir}
        return {name.removeprefix("month="): parts[name] for name in sorted(parts)
                if name.startswith("month=")}
    found: dict[str, LakePath] = {}
    for folder in sorted(symbol_dir.glob("month=*")):
        part = folder / PART_FILE
        if part.exists():
            found[folder.name.removeprefix("month=")] = part
    return found


def remove_month(symbol_dir: LakePath, month: str) -> None:
    """Delete one month partition (a stale month of an earlier run)."""
    folder = month_dir(symbol_dir, month)
    if isinstance(folder, ObjectPath):
        folder.remove_tree()
    else:
        shutil.rmtree(folder, ignore_errors=True)


def input_fingerprint(path: LakePath) -> str:
    """What identifies one trades day file: its provenance (checksum, rows, ids) or, without one,
    its size and modification time."""
    provenance = Lake.read_provenance(path)
    if provenance is not None:
        return (f"{provenance.checksum}:{provenance.rows}:{provenance.first_trade_id}:"
                f"{provenance.last_trade_id}")
    stat = path.stat()
    mtime_ns = getattr(stat, "st_mtime_ns", None)  # an object's stat has seconds only
    return f"{stat.st_size}:{mtime_ns if mtime_ns is not None else int(stat.st_mtime * 1e9)}"


def input_fingerprints(paths: list[LakePath]) -> list[str]:
    """:func:`input_fingerprint` of each file, in order; concurrent in a bucket."""
    if not paths or not isinstance(paths[0], ObjectPath):
        return [input_fingerprint(p) for p in paths]
    with ThreadPoolExecutor(min(OBJECT_READ_THREADS, len(paths))) as pool:
        return list(pool.map(input_fingerprint, paths))


def inputs_digest(days: list[date], fingerprints: list[str]) -> str:
    text = "\n".join(f"{day.isoformat()}={fp}" for day, fp in zip(days, fingerprints, strict=True))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_manifest(symbol_dir: LakePath) -> dict[str, Any] | None:
    path = symbol_dir / MANIFEST
    if not path.exists():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data


def write_manifest(symbol_dir: LakePath, manifest: dict[str, Any]) -> None:
    symbol_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(symbol_dir / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
