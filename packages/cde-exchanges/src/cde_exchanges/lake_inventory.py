"""What the trade trees of the lake hold (``cde lake ls``) and whether they are intact (``cde lake verify``).

Every trade tree is covered (``trades`` and ``aggtrades``, :data:`cde_core.lake.TRADE_TREES`); each
row names its tree, since the same symbol may be in both.

Both read only partition footers and provenance for the inventory; ``verify`` additionally streams
every partition's row groups to re-check schema, row count, id and time ranges against provenance.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from cde_core.errors import CdeError
from cde_core.lake import PART_FILE, TRADE_TREES, Lake
from cde_core.schemas import TRADES_SCHEMA


class SymbolInventory(BaseModel):
    tree: str = Field("trades", description="lake tree: trades or aggtrades")
    exchange: str
    market: str
    symbol: str
    first_date: date
    last_date: date
    days: int
    rows: int
    missing_days: list[date] = Field(default_factory=list, description="calendar days absent in the range")
    id_gaps: int = Field(0, description="trade-id gaps found while downloading (provenance validation)")
    boundary_gaps: int = Field(0, description="consecutive days whose ids do not continue (first != last + 1)")
    issues: list[str] = Field(default_factory=list)


class PartitionCheck(BaseModel):
    path: str
    ok: bool
    problem: str | None = None


def _partitions(lake: Lake, exchange: str | None, market: str | None,
                symbol: str | None) -> dict[tuple[str, str, str, str], list[tuple[date, Path]]]:
    """(tree, exchange, market, symbol) → its day partitions, over every trade tree."""
    pattern = (f"exchange={exchange or '*'}/market={market or '*'}/symbol={symbol or '*'}/date=*/{PART_FILE}")
    found: dict[tuple[str, str, str, str], list[tuple[date, Path]]] = {}
    for tree in TRADE_TREES.values():
        for path in sorted((lake.root / tree).glob(pattern)):
            sym_dir = path.parent.parent
            key = (tree, sym_dir.parent.parent.name.split("=", 1)[1], sym_dir.parent.name.split("=", 1)[1],
                   sym_dir.name.split("=", 1)[1])
            found.setdefault(key, []).append((date.fromisoformat(path.parent.name.split("=", 1)[1]), path))
    return found


def inventory(lake: Lake, *, exchange: str | None = None, market: str | None = None,
              symbol: str | None = None) -> list[SymbolInventory]:
    result = []
    for (tree, ex, mk, sym), parts in _partitions(lake, exchange, market, symbol).items():
        days = [d for d, _ in parts]
        present = set(days)
        missing = [days[0] + timedelta(days=i) for i in range((days[-1] - days[0]).days + 1)
                   if days[0] + timedelta(days=i) not in present]
        rows, gaps, boundary, issues, prev_last = 0, 0, 0, [], None
        for day, path in parts:
            try:
                prov = lake.read_provenance(path)
            except CdeError as exc:
                issues.append(f"{day}: {exc}")
                continue
            if prov is None:
                issues.append(f"{day}: no provenance")
                continue
            rows += prov.rows
            gaps += int(prov.extra.get("validation", {}).get("gaps", 0))
            if (prev_last is not None and prov.first_trade_id is not None
                    and (day - timedelta(days=1)) in present and prov.first_trade_id != prev_last + 1):
                boundary += 1
            prev_last = prov.last_trade_id if prov.last_trade_id is not None else prev_last
        result.append(SymbolInventory(tree=tree, exchange=ex, market=mk, symbol=sym, first_date=days[0],
                                      last_date=days[-1], days=len(days), rows=rows, missing_days=missing, id_gaps=gaps,
                                      boundary_gaps=boundary,
                                      issues=issues))
    return result


def verify(lake: Lake, *, exchange: str | None = None, market: str | None = None,
           symbol: str | None = None) -> list[PartitionCheck]:
    checks = []
    for parts in _partitions(lake, exchange, market, symbol).values():
        for _, path in parts:
            checks.append(_verify_one(lake, path))
    return checks


def _verify_one(lake: Lake, path: Path) -> PartitionCheck:
    try:
        prov = lake.read_provenance(path)
        if prov is None:
            return PartitionCheck(path=str(path), ok=False, problem="no provenance")
        parquet = pq.ParquetFile(path)
        if not parquet.schema_arrow.remove_metadata().equals(TRADES_SCHEMA):
            return PartitionCheck(path=str(path), ok=False, problem="schema differs from TRADES_SCHEMA")
        rows, lo, hi, tlo, thi = 0, None, None, None, None
        for i in range(parquet.num_row_groups):
            group = parquet.read_row_group(i, columns=["ts", "trade_id"])
            rows += group.num_rows
            if group.num_rows:
                ids = pc.min_max(group.column("trade_id"))
                ts = pc.min_max(group.column("ts").cast("int64"))
                lo = ids["min"].as_py() if lo is None else min(lo, ids["min"].as_py())
                hi = ids["max"].as_py() if hi is None else max(hi, ids["max"].as_py())
                tlo = ts["min"].as_py() if tlo is None else min(tlo, ts["min"].as_py())
                thi = ts["max"].as_py() if thi is None else max(thi, ts["max"].as_py())
    except Exception as exc:  # any unreadable file is a finding, not a crash
        return PartitionCheck(path=str(path), ok=False, problem=f"unreadable: {str(exc).splitlines()[0]}")
    if rows != prov.rows:
        return PartitionCheck(path=str(path), ok=False, problem=f"{rows} rows, provenance says {prov.rows}")
    if (lo, hi) != (prov.first_trade_id, prov.last_trade_id):
        return PartitionCheck(path=str(path), ok=False,
                              problem=f"trade ids {lo}..{hi}, provenance says "
                                      f"{prov.first_trade_id}..{prov.last_trade_id}")
    day = date.fromisoformat(path.parent.name.split("=", 1)[1])
    start = (day - date(1970, 1, 1)).days * 86_400_000_000
    if tlo is not None and (tlo < start or thi >= start + 86_400_000_000):
        return PartitionCheck(path=str(path), ok=False, problem="timestamps outside the partition's day")
    return PartitionCheck(path=str(path), ok=True)
