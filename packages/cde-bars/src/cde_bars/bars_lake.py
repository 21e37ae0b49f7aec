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
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

from cde_core.atomic import atomic_write_bytes
from cde_core.lake import PART_FILE, Lake

MANIFEST = "_manifest.json"


def month_label(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_dir(symbol_dir: Path, month: str) -> Path:
    return symbol_dir / f"month={month}"


def month_partitions(symbol_dir: Path) -> dict[str, Path]:
    """Existing month partition files of one symbol, by month label, in order."""
    found = {}
    for folder in sorted(symbol_dir.glob("month=*")):
        part = folder / PART_FILE
        if part.exists():
            found[folder.name.removeprefix("month=")] = part
    return found


def input_fingerprint(path: Path) -> str:
    """What identifies one trades day file: its provenance (checksum, rows, ids) or, without one,
    its size and modification time."""
    provenance = Lake.read_provenance(path)
    if provenance is not None:
        return (f"{provenance.checksum}:{provenance.rows}:{provenance.first_trade_id}:"
                f"{provenance.last_trade_id}")
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def inputs_digest(days: list[date], fingerprints: list[str]) -> str:
    text = "\n".join(f"{day.isoformat()}={fp}" for day, fp in zip(days, fingerprints, strict=True))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_manifest(symbol_dir: Path) -> dict[str, Any] | None:
    path = symbol_dir / MANIFEST
    if not path.exists():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data


def write_manifest(symbol_dir: Path, manifest: dict[str, Any]) -> None:
    symbol_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(symbol_dir / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
