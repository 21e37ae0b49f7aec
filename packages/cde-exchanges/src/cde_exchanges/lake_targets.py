"""Where a download writes: the lake partitions of one exchange, market and archive kind.

Each kind has its own tree (``trades``, ``aggtrades`` …), so a partition of one kind is never taken
for another's. A partition counts as present only when its provenance names the same kind: a file
written by an older cde into the wrong tree is fetched again instead of being trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from cde_core.errors import CdeError
from cde_core.lake import PART_FILE, Lake, trade_tree


@dataclass(frozen=True)
class LakeTarget:
    """The partitions of ``exchange`` / ``market`` / ``kind`` in ``lake``; one partition per symbol-day."""

    lake: Lake
    exchange: str
    market: str
    kind: str

    @property
    def tree(self) -> str:
        return trade_tree(self.kind)

    def market_dir(self) -> Path:
        """The folder above every symbol of this target (where stale temporary files are swept)."""
        return self.lake.hive_dir(self.tree, ("exchange", self.exchange), ("market", self.market))

    def key(self, day: date) -> date:
        """The partition a requested day belongs to."""
        return day

    def folder(self, symbol: str, key: date) -> Path:
        return self.lake.trade_kind_dir(self.kind, self.exchange, self.market, symbol, key)

    def is_complete(self, symbol: str, key: date) -> bool:
        """The partition exists and its provenance says it holds this kind."""
        folder = self.folder(symbol, key)
        if not (folder / PART_FILE).exists():
            return False
        try:
            provenance = self.lake.read_provenance(folder)
        except CdeError:
            return False  # unreadable: fetch it again
        return provenance is not None and provenance.extra.get("kind") == self.kind

