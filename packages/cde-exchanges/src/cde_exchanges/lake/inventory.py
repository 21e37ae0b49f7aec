"""What the lake's downloaded trees hold (``cde lake ls``) and whether they are intact (``cde lake verify``).

Every tree a download writes is covered (:data:`TREES`: ``trades``, ``aggtrades``, ``klines``, ``funding``); each
row names its tree (and kline interval), since the same symbol may be in several. The inventory reads
only partition footers and provenance; ``verify`` additionally streams every partition's row groups to
re-check schema, row count, trade-id range (trade trees) and that every timestamp lies in the
partition's day (or month) against the provenance, and every row against the value rules a download
holds archive rows to (:mod:`cde_exchanges.lake.partition_values`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from cde_core.errors import CdeError, RemoteError
from cde_core.lake import PART_FILE, Lake, Provenance
from cde_core.lake_location import LakePath, arrow_target
from cde_core.object_store import store_outage
from cde_exchanges.lake.listing import ListedFile, matching_files, visible_files
from cde_exchanges.lake.partition_values import PartitionValues
from cde_exchanges.lake.targets import KIND_TREES, TreeSpec
from cde_exchanges.utc_days import day_start_us

#: every tree a download writes
TREES: tuple[TreeSpec, ...] = tuple(KIND_TREES.values())


class SymbolInventory(BaseModel):
    tree: str = Field("trades", description="lake tree: trades, aggtrades, klines …")
    interval: str | None = Field(None, description="kline interval (klines tree)")
    exchange: str
    market: str
    symbol: str
    first_date: date
    last_date: date
    days: int = Field(description="partitions present (days; months in monthly trees)")
    rows: int = Field(description="rows of the partitions whose provenance could be read (the others are issues)")
    missing_days: list[date] = Field(default_factory=list, description="partitions absent in the range")
    id_gaps: int = Field(0, description="trade-id gaps found while downloading (provenance validation)")
    boundary_gaps: int = Field(0, description="consecutive days whose ids do not continue (first != last + 1)")
    issues: list[str] = Field(default_factory=list)


class PartitionCheck(BaseModel):
    path: str
    ok: bool
    problem: str | None = None


@dataclass(frozen=True)
class _Series:
    tree: TreeSpec
    values: dict[str, str]


def _period(values: dict[str, str]) -> tuple[date, date]:
    """[first day, day after the last) of a partition (``date=`` a day, ``month=`` a month); ValueError
    when the folder's value is not one (``date=2024-13-45``, ``month=latest``)."""
    if "month" in values:
        if len(values["month"]) != 7:
            raise ValueError(f"month={values['month']} is not a month (YYYY-MM)")
        first = date.fromisoformat(values["month"] + "-01")
        return first, (first + timedelta(days=32)).replace(day=1)
    try:
        day = date.fromisoformat(values["date"])
    except ValueError:
        raise ValueError(f"date={values['date']} is not a day (YYYY-MM-DD)") from None
    if len(values["date"]) != 10:
        raise ValueError(f"date={values['date']} is not a day (YYYY-MM-DD)")
    return day, day + timedelta(days=1)


def _period_problem(values: dict[str, str]) -> str | None:
    try:
        _period(values)
    except ValueError as exc:
        return f"{exc}: the folder is no partition; dataset readers of the tree fail on it or take it as data"
    return None


def partition_files(lake: Lake, exchange: str | None = None, market: str | None = None,
                    symbol: str | None = None) -> list[tuple[TreeSpec, ListedFile]]:
    """Every partition file of every tree (one recursive listing per tree in a bucket)."""
    wanted = {"exchange": exchange, "market": market, "symbol": symbol}
    found = []
    for tree in TREES:
        pattern = "/".join(f"{level}={wanted.get(level) or '*'}" for level in tree.levels) + f"/{PART_FILE}"
        found.extend((tree, listed) for listed in matching_files(lake.root / tree.name, pattern))
    return found


def _partitions(lake: Lake, files: list[tuple[TreeSpec, ListedFile]]
                ) -> dict[tuple[str, ...], tuple[_Series, list[tuple[date, LakePath]]]]:
    """The partition ``files`` grouped by series (tree and hive values above the partition); a file in a
    folder whose date (month) is not one is left out (:func:`misplaced_partitions` names it)."""
    found: dict[tuple[str, ...], tuple[_Series, list[tuple[date, LakePath]]]] = {}
    for tree, listed in files:
        path = listed.path
        values = _hive_values(lake, tree, path)
        if _period_problem(values) is not None:
            continue
        series_values = {k: v for k, v in values.items() if k not in ("date", "month")}
        key = (tree.name, *series_values.values())
        entry = found.setdefault(key, (_Series(tree, series_values), []))
        entry[1].append((_period(values)[0], path))
    return found


def _hive_values(lake: Lake, tree: TreeSpec, path: LakePath) -> dict[str, str]:
    folders = path.parent.relative_to(lake.root / tree.name).parts
    return dict(folder.split("=", 1) for folder in folders)


def misplaced_files(lake: Lake, exchange: str | None = None, market: str | None = None,
                    symbol: str | None = None) -> list[PartitionCheck]:
    """Files in a downloaded tree that are not partitions, as failed checks naming each: a stray file
    (``notes.txt``, ``part-1.parquet``, a file above the partition folders) or a partition file in a
    folder whose date is not one. Every such visible file is read by a dataset scan of the tree (pyarrow,
    DuckDB, Polars) as data, or breaks it, so ``cde lake verify`` must not pass over it."""
    wanted = {k: v for k, v in {"exchange": exchange, "market": market, "symbol": symbol}.items() if v}
    found = []
    for tree in TREES:
        for path, parts in visible_files(lake.root / tree.name):
            values = dict(part.split("=", 1) for part in parts[:-1] if "=" in part)
            if any(values.get(level) != value for level, value in wanted.items()):
                continue
            levels_ok = len(parts) == len(tree.levels) + 1 and all(
                part.startswith(f"{level}=") for part, level in zip(parts, tree.levels, strict=False))
            if levels_ok and parts[-1] == PART_FILE:
                problem = _period_problem(values)
                if problem is not None:
                    found.append(PartitionCheck(path=str(path), ok=False, problem=problem))
                continue
            found.append(PartitionCheck(
                path=str(path), ok=False,
                problem=f"stray file: not a partition of the {tree.name} tree "
                        f"({'/'.join(f'{level}=…' for level in tree.levels)}/{PART_FILE}); dataset readers of the "
                        "tree take it as data or fail on it: move it out of the lake"))
    return found


def _missing(keys: list[date], monthly: bool) -> list[date]:
    present, missing, key = set(keys), [], keys[0]
    while key < keys[-1]:
        key = (key + timedelta(days=32)).replace(day=1) if monthly else key + timedelta(days=1)
        if key not in present:
            missing.append(key)
    return missing


#: said of a partition whose provenance cannot be read: ``rows`` and the id checks leave it out
_UNCOUNTED = "; its rows are not in the row count and its trade ids not in the gap counts"


def inventory(lake: Lake, *, exchange: str | None = None, market: str | None = None,
              symbol: str | None = None,
              read_provenance: Callable[[LakePath], Provenance | None] | None = None,
              files: list[tuple[TreeSpec, ListedFile]] | None = None) -> list[SymbolInventory]:
    """One row per series. ``read_provenance`` (default: read each footer) lets a caller that keeps
    the inventory warm reuse what it read before (:class:`cde_exchanges.lake.inventory_cache.InventoryCache`);
    ``files``: the partitions as that caller listed them (default: list them now)."""
    read = read_provenance or lake.read_provenance
    if files is None:
        files = partition_files(lake, exchange, market, symbol)
    result = []
    for series, parts in _partitions(lake, files).values():
        days = [d for d, _ in parts]
        present = set(days)
        rows, gaps, boundary, issues, prev_last = 0, 0, 0, [], None
        for day, path in parts:
            try:
                prov = read(path)
            except RemoteError:
                raise  # the store is down: every day would look bad, so stop and say that instead
            except CdeError as exc:
                issues.append(f"{day}: {exc}{_UNCOUNTED}")
                prev_last = None  # its ids are unknown: the next day cannot be said to continue it or not
                continue
            if prov is None:
                issues.append(f"{day}: no provenance{_UNCOUNTED}")
                prev_last = None
                continue
            rows += prov.rows
            elsewhere = _provenance_elsewhere(series.tree, series.values, prov)
            if elsewhere is not None:
                issues.append(f"{day}: {elsewhere}")
            if prov.extra.get("complete") is False:
                issues.append(f"{day}: incomplete (provenance says complete: false)")
            gaps += int(prov.extra.get("validation", {}).get("gaps", 0))
            if (prev_last is not None and prov.first_trade_id is not None
                    and (day - timedelta(days=1)) in present and prov.first_trade_id != prev_last + 1):
                boundary += 1
            prev_last = prov.last_trade_id if prov.last_trade_id is not None else prev_last
        values = series.values
        result.append(SymbolInventory(
            tree=series.tree.name, interval=values.get("interval"), exchange=values["exchange"],
            market=values["market"], symbol=values["symbol"], first_date=days[0], last_date=days[-1],
            days=len(days), rows=rows, missing_days=_missing(days, series.tree.monthly), id_gaps=gaps,
            boundary_gaps=boundary, issues=issues))
    return result


def verify(lake: Lake, *, exchange: str | None = None, market: str | None = None,
           symbol: str | None = None) -> list[PartitionCheck]:
    """Every partition checked against its provenance, then every file in the trees that is no partition
    (:func:`misplaced_files`), each a failed check."""
    checks = []
    for series, parts in _partitions(lake, partition_files(lake, exchange, market, symbol)).values():
        for _, path in parts:
            checks.append(_verify_one(lake, series.tree, path))
    return checks + misplaced_files(lake, exchange, market, symbol)


def _provenance_elsewhere(tree: TreeSpec, values: dict[str, str], prov: Provenance) -> str | None:
    """Why the provenance says the partition belongs in another folder or tree, or None.

    Why: a partition copied or moved from ETHUSDT's folder into BTCUSDT's (or from ``aggtrades/`` into
    ``trades/``) has its own rows, ids and times, all consistent with its provenance and its day, so every
    other check passes while BTCUSDT reads ETHUSDT's trades. Only what the provenance names is compared
    (a third-party writer may name less)."""
    for level, value in values.items():
        said = prov.extra.get(level)
        if level not in ("date", "month") and said is not None and str(said) != value:
            return (f"its provenance is of {level} {said}, not {value} as its folder says (a partition copied or "
                    "moved from another folder); delete it and download the day again")
    kind = prov.extra.get("kind")
    if kind is not None and (kind not in KIND_TREES or KIND_TREES[kind].name != tree.name):
        return (f"its provenance is of kind {kind}, which is not kept in the {tree.name} tree (a partition copied "
                "or moved from another tree); delete it and download the day again")
    return None


def _verify_one(lake: Lake, tree: TreeSpec, path: LakePath) -> PartitionCheck:
    try:
        prov = lake.read_provenance(path)
        if prov is None:
            return PartitionCheck(path=str(path), ok=False, problem="no provenance")
        where, filesystem = arrow_target(path)
        parquet = pq.ParquetFile(where, filesystem=filesystem)
        if not parquet.schema_arrow.remove_metadata().equals(tree.schema):
            return PartitionCheck(path=str(path), ok=False, problem=f"schema differs from the {tree.name} schema")
        values = PartitionValues(tree, _hive_values(lake, tree, path).get("interval"))
        rows, lo, hi, tlo, thi, bad_value = 0, None, None, None, None, None
        for i in range(parquet.num_row_groups):
            group = parquet.read_row_group(i)
            rows += group.num_rows
            bad_value = bad_value or values.add(group)
            if group.num_rows:
                ts = pc.min_max(group.column(tree.time_column).cast("int64"))
                tlo = ts["min"].as_py() if tlo is None else min(tlo, ts["min"].as_py())
                thi = ts["max"].as_py() if thi is None else max(thi, ts["max"].as_py())
                if tree.has_trade_ids:
                    ids = pc.min_max(group.column("trade_id"))
                    lo = ids["min"].as_py() if lo is None else min(lo, ids["min"].as_py())
                    hi = ids["max"].as_py() if hi is None else max(hi, ids["max"].as_py())
    except RemoteError:
        raise  # the store is down or refuses us: no partition is bad because of that
    except Exception as exc:  # any unreadable file is a finding, not a crash
        outage = store_outage(exc)
        if outage is not None:
            raise outage from exc
        return PartitionCheck(path=str(path), ok=False, problem=f"unreadable: {str(exc).splitlines()[0]}")
    foreign = _provenance_elsewhere(tree, _hive_values(lake, tree, path), prov)
    if foreign is not None:
        return PartitionCheck(path=str(path), ok=False, problem=foreign)
    bad_value = bad_value or values.repeated()
    if bad_value is not None:
        return PartitionCheck(path=str(path), ok=False, problem=f"{bad_value}; delete it and download the day again")
    if prov.extra.get("complete") is False:
        return PartitionCheck(path=str(path), ok=False, problem="incomplete: its provenance says complete: false; "
                                                                "download the day again")
    if rows != prov.rows:
        return PartitionCheck(path=str(path), ok=False, problem=f"{rows} rows, provenance says {prov.rows}")
    if tree.has_trade_ids and (lo, hi) != (prov.first_trade_id, prov.last_trade_id):
        return PartitionCheck(path=str(path), ok=False,
                              problem=f"trade ids {lo}..{hi}, provenance says "
                                      f"{prov.first_trade_id}..{prov.last_trade_id}")
    first, after = _period(_hive_values(lake, tree, path))
    if tlo is not None and thi is not None and (tlo < day_start_us(first) or thi >= day_start_us(after)):
        return PartitionCheck(path=str(path), ok=False, problem="timestamps outside the partition's period")
    return PartitionCheck(path=str(path), ok=True)
