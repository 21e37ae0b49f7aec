"""The names a lake holds (exchanges, markets, symbols, specs …), read from its hive folder names.

Every command that reads the lake uses these to turn "found nothing" into an error that says what
was missing and the nearest names present, instead of an empty result with exit code 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

from cde_core.errors import DataError, NotFoundError
from cde_core.object_store import ObjectPath, bucket_names
from cde_core.suggest import did_you_mean, nearest

if TYPE_CHECKING:
    from cde_core.lake import Lake

#: how a user points a command at another lake
POINT_ELSEWHERE = "point at another lake with data_root in cde.yaml, CDE_DATA_ROOT=…, or --config FILE"


def partition_values(folder: Path | ObjectPath, key: str) -> list[str]:
    """The values of the hive partition ``key=…`` folders directly inside ``folder``."""
    return sorted(name.split("=", 1)[1] for name in _folder_names(folder) if name.startswith(f"{key}="))


def _folder_names(folder: Path | ObjectPath) -> list[str]:
    """The names of the folders (in a bucket: common prefixes) directly inside ``folder``."""
    if isinstance(folder, ObjectPath):  # one listing, whose entries say which are prefixes ("folders")
        import pyarrow.fs as pafs

        infos = folder.fs.get_file_info(pafs.FileSelector(folder.key, allow_not_found=True))
        return [i.base_name for i in infos if i.type == pafs.FileType.Directory]
    if not folder.is_dir():
        return []
    return [p.name for p in folder.iterdir() if p.is_dir()]


def level_values(tree: Path, levels: Iterable[str], key: str) -> set[str]:
    """Every value of ``key`` in a tree whose folders nest as ``levels`` (e.g. exchange, market, symbol)."""
    order = list(levels)
    if key not in order:
        return set()
    pattern = "/".join(f"{level}=*" for level in order[: order.index(key) + 1])
    return {p.name.split("=", 1)[1] for p in tree.glob(pattern) if p.is_dir()}


def missing_name(what: str, value: str, known: Iterable[str], where: str) -> NotFoundError:
    """``no <what> '<value>'`` with the nearest known names (or the list of them) as the hint."""
    return NotFoundError(f"no {what} '{value}'", where=where, hint=did_you_mean(value, known, what=f"{what}s there"))


def absent_lake(root: Path | ObjectPath) -> NotFoundError | None:
    """An error when the lake root does not exist at all (None when it does). A misspelt root is the
    likely cause, so the error names a missing bucket as such and the nearest names present at the
    first level that is not there (``s3://bucket/demo/lak`` → did you mean ``…/demo/lake``?)."""
    if root.is_dir():
        return None
    missing = missing_bucket(root) if isinstance(root, ObjectPath) else None
    if missing is not None:
        return missing
    near = _nearest_existing(root)
    return NotFoundError(f"the lake {root} does not exist", where="data_root",
                         hint=f"{near}download data first (`cde download …`), or {POINT_ELSEWHERE}")


def missing_bucket(root: ObjectPath) -> NotFoundError | None:
    """An error naming the nearest buckets when the bucket of ``root`` does not exist (None when it does).
    A missing prefix is a fresh lake; a missing bucket is a mistake, since cde never creates buckets."""
    if _bucket_of(root).is_dir():
        return None
    buckets = bucket_names()
    named = did_you_mean(root.bucket, buckets, what="buckets there") if buckets else ""
    named = "" if not named else (f"{named} Else " if named.endswith("?") else f"{named}; ")
    return NotFoundError(f"the bucket '{root.bucket}' of the lake {root} does not exist", where="data_root",
                         hint=f"{named}create the bucket first, or {POINT_ELSEWHERE}")


def raise_if_absent(root: Path | ObjectPath) -> None:
    """Raise :func:`absent_lake`'s error when the lake root is not there."""
    absent = absent_lake(root)
    if absent is not None:
        raise absent


def _bucket_of(root: ObjectPath) -> ObjectPath:
    return ObjectPath(str(root).split("://", 1)[0] + "://" + root.bucket)


def _nearest_existing(root: Path | ObjectPath) -> str:
    """``did you mean <sibling>? `` for the first missing level of ``root`` whose parent exists and
    holds a folder (prefix) of a close name; empty when nothing is close."""
    ancestors = [root, *root.parents]
    for missing, parent in pairwise(ancestors):
        if not parent.is_dir():
            continue
        close = nearest(missing.name, [name for name in _folder_names(parent) if not name.startswith(".")])
        if close:
            return "did you mean " + " or ".join(str(parent / name) for name in close) + "? Else "
        return ""
    return ""


def check_trades_present(lake: Lake, exchange: str, market: str, symbols: Iterable[str],
                         start: date | None = None, end: date | None = None) -> None:
    """Raise unless every symbol has at least one trades day in [start, end] in the lake's trade tree,
    naming the first missing exchange, market or symbol with the nearest names, or the days it holds."""
    absent = absent_lake(lake.root)
    if absent is not None:
        raise absent
    folder = lake.root / lake.trade_tree
    for key, value in (("exchange", exchange), ("market", market)):
        known = partition_values(folder, key)
        if value not in known:
            raise missing_name(key, value, known, str(folder))
        folder = folder / f"{key}={value}"
    known = partition_values(folder, "symbol")
    for symbol in symbols:
        if symbol not in known:
            raise missing_name("symbol", symbol, known, str(folder))
        if not lake.trades_files(exchange, market, symbol, start, end):
            days = partition_values(folder / f"symbol={symbol}", "date")
            held = f"the lake holds {days[0]} … {days[-1]}" if days else "the lake holds no day of it"
            if days and start is not None and end is not None and days[0] <= str(start) and str(end) <= days[-1]:
                held += " but not these days (a gap: see `cde lake ls`, download them again)"
            raise NotFoundError(f"no {lake.trade_tree} of {symbol} from {start or 'the start'} to {end or 'the end'}",
                                where=str(folder / f"symbol={symbol}"), hint=f"{held}; change --start/--end")


def check_hive_path(tree: Path, *levels: tuple[str, str | Iterable[str]]) -> Path:
    """Walk ``tree/key=value/…`` level by level and raise for the first value that is not there, with
    the nearest names of that level (a level given several values, e.g. symbols, needs every one).
    Returns the folder of the last single-valued level."""
    absent = absent_lake(tree.parent)
    if absent is not None:
        raise absent
    folder = tree
    for key, value in levels:
        known = partition_values(folder, key)
        label = f"{tree.name} {key}" if key == "spec" else key
        for one in [value] if isinstance(value, str) else value:
            if one not in known:
                raise missing_name(label, one, known, str(folder))
        if isinstance(value, str):
            folder = folder / f"{key}={value}"
    return folder


def held_span(folder: Path, symbols: Iterable[str], key: str) -> str:
    """``the lake holds <first> … <last>`` of the ``key`` partitions (month, date) of ``symbols``."""
    values = sorted({v for s in symbols for v in partition_values(folder / f"symbol={s}", key)})
    return f"the lake holds {values[0]} … {values[-1]}" if values else "the lake holds none"


def _overlaps(label: str, start: date | None, end: date | None) -> bool:
    """Whether a ``month=YYYY-MM`` or ``date=YYYY-MM-DD`` partition label has days in [start, end]."""
    first, last = (label, label) if len(label) == 10 else (f"{label}-01", f"{label}-31")
    return (start is None or last >= start.isoformat()) and (end is None or first <= end.isoformat())


def check_span_held(folder: Path | ObjectPath, symbols: Iterable[str], start: date | None, end: date | None, *,
                    what: str, where: str) -> None:
    """Raise unless some ``month=`` / ``date=`` partition of ``symbols`` (every symbol under ``folder``
    when none is named) has days in [start, end]: a range the lake does not hold at all is refused
    before any work (a 404 at submit) with the span it does hold, not a task that fails after the queue."""
    names = list(symbols) or partition_values(folder, "symbol")
    labels = {label for symbol in names for key in ("month", "date")
              for label in partition_values(folder / f"symbol={symbol}", key)}
    if start is not None and end is not None and start > end:
        raise DataError(f"no {what} from {start} to {end}: the range ends before it starts", where=where,
                        hint="swap start and end")
    if not labels or any(_overlaps(label, start, end) for label in labels):
        return  # nothing to compare against (another error names it), or the range holds some
    held = f"the lake holds {min(labels)} … {max(labels)}"
    raise NotFoundError(f"no {what} from {start or 'the start'} to {end or 'the end'}", where=where,
                        hint=f"{held}; change start / end")
