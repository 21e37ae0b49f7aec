"""``GET /lake`` without rescanning the lake on every call, and without ever making a request wait for one.

An inventory reads one footer per partition: thousands of files, a second or more. The API serves it
from :class:`InventoryCache`, whose snapshot holds the rows and, per page asked for, the page already
encoded as JSON bytes with its ETag (a hash of those bytes): a request is a dictionary look-up, and a
client that sends the ETag back in ``If-None-Match`` gets ``304 Not Modified`` without a body.

Freshness (stale-while-revalidate): once the snapshot is older than ``ttl_s``, the request that notices
starts one background refresh (single flight: never two at a time) and is answered from the snapshot
it has. The refresh walks the partition folders and stats each part file; when no (path, size,
modification time) changed, the snapshot is kept as it is (its pages and ETags stay valid); otherwise
the inventory is recomputed, re-reading only the footers of new or changed partitions. A committed
partition therefore shows up at most ``ttl_s`` plus one refresh after its commit (2 s plus well under
a second on the demo lake); :meth:`InventoryCache.invalidate` (called when a download task ends) starts
the refresh at once. Only the very first request waits for a scan, in a worker thread, never on the
event loop. The CLI (``cde lake ls``) still reads the lake afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from cde_core.lake import Lake, Provenance
from cde_core.lake_location import LakePath
from cde_core.lake_paths import lake_relative
from cde_core.object_store import ObjectPath
from cde_exchanges.lake.inventory import SymbolInventory, inventory, partition_files
from cde_exchanges.lake.listing import ListedFile
from cde_exchanges.lake.targets import TreeSpec

#: how stale a served inventory may be (a commit shows up at most this late, plus one refresh)
DEFAULT_TTL_S = 2.0
#: encoded pages kept per snapshot (distinct filter / offset / limit combinations); past it, start over
MAX_PAGES = 512

#: (path, size, mtime_ns) of every partition file: equal stamps, equal inventory
Stamps = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Page:
    """One encoded answer: the JSON body, how many rows match the filter, and its ETag."""

    body: bytes
    total: int
    etag: str


@dataclass
class InventorySnapshot:
    """The inventory as of one refresh: rows as JSON-ready dicts and the pages encoded so far."""

    rows: list[dict[str, Any]]
    items: list[SymbolInventory]
    stamps: Stamps
    built_at: float
    _pages: dict[tuple[str | None, str | None, str | None, int, int], Page] = field(default_factory=dict)

    def check_filter(self, *, exchange: str | None = None, market: str | None = None,
                     symbol: str | None = None) -> None:
        """Raise :class:`NotFoundError` for a filter value the lake does not hold, naming the nearest
        held under the filters before it: a misspelt symbol is not an empty lake (``[]``)."""
        from cde_core.lake_names import missing_name

        rows = self.rows
        for key, value in (("exchange", exchange), ("market", market), ("symbol", symbol)):
            if value is None:
                continue
            known = {row[key] for row in rows}
            if value not in known:
                raise missing_name(key, value, sorted(known), "the lake's inventory (GET /lake)")
            rows = [row for row in rows if row[key] == value]

    def page(self, *, exchange: str | None = None, market: str | None = None, symbol: str | None = None,
             offset: int = 0, limit: int = 1000) -> Page:
        """The matching rows ``[offset, offset + limit)``, encoded once per snapshot."""
        key = (exchange, market, symbol, offset, limit)
        found = self._pages.get(key)
        if found is not None:
            return found
        rows = [row for row in self.rows if (exchange is None or row["exchange"] == exchange)
                and (market is None or row["market"] == market) and (symbol is None or row["symbol"] == symbol)]
        body = json.dumps(rows[offset:offset + limit], ensure_ascii=False, allow_nan=False,
                          separators=(",", ":")).encode()
        digest = hashlib.blake2b(body + b"|" + str(len(rows)).encode(), digest_size=12).hexdigest()
        page = Page(body, len(rows), f'"{digest}"')
        if len(self._pages) >= MAX_PAGES:
            self._pages.clear()  # a scan of odd offsets must not grow memory for ever
        self._pages[key] = page
        return page


class InventoryCache:
    """The lake's inventory, refreshed at most every ``ttl_s`` seconds, once at a time, in the background."""

    def __init__(self, lake: Lake, *, ttl_s: float = DEFAULT_TTL_S) -> None:
        self.lake = lake
        self.ttl_s = ttl_s
        self._rebuild = threading.Lock()
        self._snapshot: InventorySnapshot | None = None
        self._footers: dict[str, tuple[int, int, Provenance | None]] = {}
        self._refresh_now = False
        #: refreshes that recomputed the inventory (a refresh that found nothing changed does not count)
        self.rebuilds = 0
        #: refreshes run, changed or not
        self.refreshes = 0

    # -- serving ---------------------------------------------------------------------------------
    def current(self) -> InventorySnapshot | None:
        """The snapshot to serve now, without blocking: None only before the first scan finished. A
        stale snapshot is still returned, after starting one background refresh."""
        snapshot = self._snapshot
        if snapshot is not None and (self._refresh_now or time.monotonic() - snapshot.built_at >= self.ttl_s) \
                and self._rebuild.acquire(blocking=False):
            self._refresh_now = False
            threading.Thread(target=self._refresh_and_release, name="cde-lake-inventory", daemon=True).start()
        return snapshot

    def snapshot(self) -> InventorySnapshot:
        """The snapshot, scanning the lake first if there is none yet (blocks: call it off the event loop)."""
        snapshot = self.current()
        if snapshot is not None:
            return snapshot
        with self._rebuild:
            if self._snapshot is None:
                self._refresh()
        assert self._snapshot is not None
        return self._snapshot

    def items(self) -> list[SymbolInventory]:
        """Every series of the lake (a snapshot; do not mutate it)."""
        return self.snapshot().items

    # -- refreshing ------------------------------------------------------------------------------
    def invalidate(self) -> None:
        """Partitions were just committed (a download ended): the next request starts a refresh
        whatever the snapshot's age, and one is started now if none is running."""
        self._refresh_now = True
        self.current()

    def settle(self) -> None:
        """Wait for a running refresh to finish (tests, and callers that just committed)."""
        with self._rebuild:
            pass

    def _refresh_and_release(self) -> None:
        try:
            self._refresh()
        except Exception:  # the snapshot served so far stays; the next stale request tries again
            logger.exception("refreshing the lake inventory failed")
        finally:
            self._rebuild.release()

    def _listing(self) -> tuple[list[tuple[TreeSpec, ListedFile]], dict[str, tuple[int, int]]]:
        """The partition files and a (size, mtime) stamp of each: from the listing itself in a bucket
        (no request per object), from a stat of each file (a link's target: a re-pointed link counts
        as changed) on a disk."""
        files = partition_files(self.lake)
        stamps: dict[str, tuple[int, int]] = {}
        for _, listed in files:
            if listed.stamp is not None:
                stamps[str(listed.path)] = listed.stamp
                continue
            try:
                stat = os.stat(listed.path)  # type: ignore[arg-type]  # a local Path here
            except OSError:
                continue  # removed since the walk: it is gone from the next inventory too
            stamps[str(listed.path)] = (stat.st_size, stat.st_mtime_ns)
        return files, stamps

    def _refresh(self) -> None:
        started = time.monotonic()
        self.refreshes += 1
        files, listed = self._listing()
        stamps: Stamps = tuple((path, *stamp) for path, stamp in sorted(listed.items()))
        old = self._snapshot
        if old is not None and stamps == old.stamps:
            old.built_at = started  # nothing changed: same rows, same pages, same ETags
            return
        seen: dict[str, tuple[int, int, Provenance | None]] = {}

        def read(path: LakePath) -> Provenance | None:
            stamp = listed.get(str(path))
            if stamp is None:  # appeared after the listing: stat it now
                stat = path.stat()
                stamp = (stat.st_size, int(stat.st_mtime * 1e9) if isinstance(path, ObjectPath)
                         else stat.st_mtime_ns)  # type: ignore[union-attr]
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
        rows = [item.model_dump(mode="json") for item in items]
        for row in rows:  # an issue names a partition file: relative to the lake, as every answer does
            row["issues"] = [lake_relative(issue, self.lake.root) for issue in row["issues"]]
        self._snapshot = InventorySnapshot(rows=rows, items=items,
                                           stamps=stamps, built_at=started)
        self.rebuilds += 1
