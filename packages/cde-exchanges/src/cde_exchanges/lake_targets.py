"""Where a download writes: the lake partitions of one exchange, market and archive kind.

Each kind has its own tree (``trades``, ``aggtrades``, ``klines`` …), so a partition of one kind is
never taken for another's. A partition counts as present only when its provenance names the same
kind (and interval): a file written by an older cde into the wrong tree is fetched again instead of
being trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from cde_core.errors import CdeError
from cde_core.lake import PART_FILE, TRADE_TREES, Lake, trade_tree
from cde_core.schemas import FUNDING_SCHEMA, KLINES_SCHEMA, TRADES_SCHEMA
from cde_exchanges.kline_intervals import interval_us

#: the column that places a row of a non-trade kind in its partition
TIME_COLUMNS: dict[str, str] = {"klines": "open_time", "fundingRate": "calc_time"}
#: lake trees of the kinds that are not trades (those are :data:`cde_core.lake.TRADE_TREES`)
TABLE_TREES: dict[str, str] = {"klines": "klines", "fundingRate": "funding"}
#: kinds partitioned by month (their files are monthly only)
MONTHLY_KINDS = frozenset({"fundingRate"})


@dataclass(frozen=True)
class LakeTarget:
    """The partitions of ``exchange`` / ``market`` / ``kind`` (``interval``: klines) in ``lake``: one per
    symbol-day, or per symbol-month for :data:`MONTHLY_KINDS` (keyed by the month's first day)."""

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
    def tree(self) -> str:
        return TABLE_TREES[self.kind] if self.kind in TABLE_TREES else trade_tree(self.kind)

    @property
    def monthly(self) -> bool:
        return self.kind in MONTHLY_KINDS

    @property
    def schema(self) -> pa.Schema:
        return {"klines": KLINES_SCHEMA, "fundingRate": FUNDING_SCHEMA}.get(self.kind, TRADES_SCHEMA)

    @property
    def time_column(self) -> str:
        return TIME_COLUMNS.get(self.kind, "ts")

    def market_dir(self) -> Path:
        """The folder above every symbol of this target (where stale temporary files are swept)."""
        return self.lake.hive_dir(self.tree, ("exchange", self.exchange), ("market", self.market))

    def key(self, day: date) -> date:
        """The partition a requested day belongs to."""
        return day.replace(day=1) if self.monthly else day

    def keys_of(self, times_us: np.ndarray) -> np.ndarray:
        """The partition key (as ``datetime64[D]``) of each row's time."""
        unit = "datetime64[M]" if self.monthly else "datetime64[D]"
        return times_us.astype("datetime64[us]").astype(unit).astype("datetime64[D]")

    def folder(self, symbol: str, key: date) -> Path:
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

    def is_complete(self, symbol: str, key: date) -> bool:
        """The partition exists and its provenance says it holds this kind (and interval)."""
        folder = self.folder(symbol, key)
        if not (folder / PART_FILE).exists():
            return False
        try:
            provenance = self.lake.read_provenance(folder)
        except CdeError:
            return False  # unreadable: fetch it again
        if provenance is None:
            return False
        return all(provenance.extra.get(k) == v for k, v in self.provenance_extra(symbol).items()
                   if k in ("kind", "interval"))
