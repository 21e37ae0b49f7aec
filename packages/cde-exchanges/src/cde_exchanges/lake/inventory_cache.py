"""``GET /lake`` without rescanning the lake on every call.

An inventory reads one footer per partition: thousands of files, a second or more. The API serves it
from :class:`InventoryCache`: requests get the latest snapshot at once; once it is older than
``ttl_s`` one background rebuild (never two at a time: single flight) replaces it, re-reading only
the footers of partitions that are new or changed since the last (keyed by path, size and
modification time; in a bucket taken from the one listing of each tree, so a warm rebuild reads no
object), so a partition committed by a download shows up within ``ttl_s`` plus one
rebuild. Only the first request after start waits for a scan. The CLI (``cde lake ls``) still reads
the lake afresh.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from loguru import logger

from cde_core.lake import Lake, Provenance
from cde_core.lake_location import LakePath
from cde_exchanges.lake.inventory import SymbolInventory, inventory, partition_files

#: how stale a served inventory may be (a commit shows up at most this late)
DEFAULT_TTL_S = 2.0


class InventoryCache:
    """The lake's inventory, rebuilt at most every ``ttl_s`` seconds, once at a time."""

    def __init__(self, lake: Lake, *, ttl_s: float = DEFAULT_TTL_S) -> None:
        self.lake = lake
        self.ttl_s = ttl_s
        self._rebuild = threading.Lock()
        self._items: list[SymbolInventory] | None = None
        self._built_at = 0.0
        self._footers: dict[str, tuple[int, int, Provenance | None]] = {}
        self._rows: list[dict[str, Any]] = []
        self.rebuilds = 0

    def items(self) -> list[SymbolInventory]:
        """Every series of the lake (a snapshot; do not mutate it). A snapshot older than ``ttl_s`` is
        still served while one background rebuild replaces it; only the very first call waits."""
        items = self._items
        if items is None:
            with self._rebuild:
                if self._items is None:
                    self._build()
            assert self._items is not None
            return self._items
        if time.monotonic() - self._built_at >= self.ttl_s and self._rebuild.acquire(blocking=False):
            threading.Thread(target=self._build_and_release, name="cde-lake-inventory", daemon=True).start()
        return items

    def settle(self) -> None:
        """Wait for a running rebuild to finish (tests, and callers that just committed)."""
        with self._rebuild:
            pass

    def _build_and_release(self) -> None:
        try:
            self._build()
        except Exception:  # the snapshot served so far stays; the next request tries again
            logger.exception("rebuilding the lake inventory failed")
        finally:
            self._rebuild.release()

    def _build(self) -> None:
        seen: dict[str, tuple[int, int, Provenance | None]] = {}
        started = time.monotonic()
        files = partition_files(self.lake)
        listed = {str(f.path): f.stamp for _, f in files if f.stamp is not None}  # a bucket's listing

        def read(path: LakePath) -> Provenance | None:
            stamp = listed.get(str(path))
            if stamp is None:
                stat = path.stat()  # of the link's target: a re-pointed link is read again
                stamp = (stat.st_size, stat.st_mtime_ns)  # type: ignore[union-attr]
            known = self._footers.get(str(path))
            if known is not None and known[:2] == stamp:
                seen[str(path)] = known
                return known[2]
            # a partition linked out of the lake is an issue of its row, its footer is not read
            prov = self.lake.read_provenance(self.lake.inside(path))
            seen[str(path)] = (*stamp, prov)
            return prov

        items = inventory(self.lake, read_provenance=read, files=files)
        self._footers = seen  # forget deleted partitions
        self._rows = [item.model_dump(mode="json") for item in items]
        self._items, self._built_at = items, started
        self.rebuilds += 1

    def select(self, *, exchange: str | None = None, market: str | None = None,
               symbol: str | None = None) -> list[dict[str, Any]]:
        """The matching rows as JSON-ready dicts (dumped once per snapshot, not once per request)."""
        self.items()
        return [row for row in self._rows if (exchange is None or row["exchange"] == exchange)
                and (market is None or row["market"] == market) and (symbol is None or row["symbol"] == symbol)]
