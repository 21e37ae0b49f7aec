"""Where a download writes: the lake partitions of one exchange, market and archive kind.

Each kind has its own tree (``trades``, ``aggtrades``, ``klines`` …), so a partition of one kind is
never taken for another's. A partition counts as present only when its provenance names the same
kind (and interval): a file written by an older cde into the wrong tree is fetched again instead of
being trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from cde_core.errors import CdeError, RemoteError
from cde_core.lake import PART_FILE, TRADE_TREES, Lake, trade_tree
from cde_core.lake_location import LakePath
from cde_core.object_store import ObjectPath
from cde_core.schemas import FUNDING_SCHEMA, KLINES_SCHEMA, TRADES_SCHEMA
from cde_exchanges.formats.kline_intervals import interval_us


@dataclass(frozen=True)
class TreeSpec:
    """One downloaded lake tree: its hive levels down to the partition, schema and time column (the
    column that places a row in its partition)."""

    name: str
    levels: tuple[str, ...]
    schema: pa.Schema
    time_column: str = "ts"

    @property
    def has_trade_ids(self) -> bool:
        return bool(self.schema.equals(TRADES_SCHEMA))

    @property
    def monthly(self) -> bool:
        """Partitioned by month (the kind's files are monthly only)."""
        return "month" in self.levels


_TRADE_LEVELS = ("exchange", "market", "symbol", "date")
#: the tree of each downloadable archive kind (trade kinds' trees are :data:`cde_core.lake.TRADE_TREES`)
KIND_TREES: dict[str, TreeSpec] = {
    **{kind: TreeSpec(tree, _TRADE_LEVELS, TRADES_SCHEMA) for kind, tree in TRADE_TREES.items()},
    "klines": TreeSpec("klines", ("exchange", "market", "interval", "symbol", "date"), KLINES_SCHEMA, "open_time"),
    "fundingRate": TreeSpec("funding", ("exchange", "market", "symbol", "month"), FUNDING_SCHEMA, "calc_time"),
}


@dataclass(frozen=True)
class LakeTarget:
    """The partitions of ``exchange`` / ``market`` / ``kind`` (``interval``: klines) in ``lake``: one per
    symbol-day, or per symbol-month for monthly trees (keyed by the month's first day)."""

    lake: Lake
    exchange: str
    market: str
    kind: str
    interval: str | None = None

    def __post_init__(self) -> None:
        if self.kind == "klines":
            interval_us(self.interval, self.market)

    @property
    def is_trades(self) -> bool:
        """Trade-shaped kinds go through the streaming trade extractor; the others are small tables."""
        return self.kind in TRADE_TREES

    @property
    def spec(self) -> TreeSpec:
        if self.kind not in KIND_TREES:
            trade_tree(self.kind)  # the one-line error naming the kinds
        return KIND_TREES[self.kind]

    @property
    def tree(self) -> str:
        return self.spec.name

    @property
    def monthly(self) -> bool:
        return self.spec.monthly

    @property
    def schema(self) -> pa.Schema:
        return self.spec.schema

    @property
    def time_column(self) -> str:
        return self.spec.time_column

    def symbol_dir(self, symbol: str) -> LakePath:
        """The folder above every partition of ``symbol`` (what one download of the symbol writes)."""
        values = {"exchange": self.exchange, "market": self.market, "interval": self.interval or "",
                  "symbol": symbol}
        return self.lake.hive_dir(self.tree, *((level, values[level]) for level in self.spec.levels[:-1]))

    def key(self, day: date) -> date:
        """The partition a requested day belongs to."""
        return day.replace(day=1) if self.monthly else day

    def keys_of(self, times_us: np.ndarray) -> np.ndarray:
        """The partition key (as ``datetime64[D]``) of each row's time."""
        unit = "datetime64[M]" if self.monthly else "datetime64[D]"
        return times_us.astype("datetime64[us]").astype(unit).astype("datetime64[D]")

    def folder(self, symbol: str, key: date) -> LakePath:
        if self.kind == "fundingRate":
            return self.lake.funding_dir(self.exchange, self.market, symbol, key)
        if self.kind == "klines":
            assert self.interval is not None
            return self.lake.klines_dir(self.exchange, self.market, self.interval, symbol, key)
        return self.lake.trade_kind_dir(self.kind, self.exchange, self.market, symbol, key)

    def provenance_extra(self, symbol: str) -> dict[str, str]:
        """What a partition's provenance says it holds (checked by :meth:`is_complete`)."""
        extra = {"exchange": self.exchange, "market": self.market, "kind": self.kind, "symbol": symbol}
        if self.interval is not None:
            extra["interval"] = self.interval
        return extra

    def complete_keys(self, symbol: str, keys: list[date]) -> set[date]:
        """The ``keys`` whose partitions are complete (:meth:`is_complete`). In a bucket one listing of
        the symbol's folder finds the partitions present, so an absent day costs no request."""
        symbol_dir = self.symbol_dir(symbol)
        if not isinstance(symbol_dir, ObjectPath):
            return {key for key in keys if self.is_complete(symbol, key)}
        present = {path.parent for path, _ in symbol_dir.walk_files() if path.name == PART_FILE}
        return {key for key in keys
                if self.folder(symbol, key) in present and self.is_complete(symbol, key, present=True)}

    def is_complete(self, symbol: str, key: date, *, present: bool = False) -> bool:
        """The partition exists, its provenance says it holds this exchange, market, symbol, kind (and
        interval) — a partition copied or moved from another symbol's folder is not this one's — and does
        not say it is incomplete (``complete: false``). ``present``: the caller has just listed it."""
        folder = self.folder(symbol, key)
        if not present and not (folder / PART_FILE).exists():
            return False
        try:
            provenance = self.lake.read_provenance(folder)
        except RemoteError:
            raise  # the store is down: not a reason to fetch every day again
        except CdeError:
            return False  # unreadable: fetch it again
        if provenance is None or provenance.extra.get("complete") is False:
            return False
        return all(provenance.extra.get(k) == v for k, v in self.provenance_extra(symbol).items())


def partition_stamp(path: LakePath) -> tuple[int, int] | None:
    """What changes when a partition file is committed again: (inode, mtime in ns) on a local disk,
    where a rename into place changes both; (size, mtime in ns) of an object, which a server-side copy
    stamps anew. None when the file is absent."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    if isinstance(path, ObjectPath):
        return stat.st_size, int(stat.st_mtime * 1e9)
    return stat.st_ino, stat.st_mtime_ns  # type: ignore[union-attr]
