"""``GET /lake`` from a warm inventory (issue 19, item 9): paginated, one rebuild at a time, footers
re-read only for new or changed partitions, the same rows as a fresh scan once a rebuild settled. No
timing here: the p99 under 20 clients is measured by benchmarks/bench_api_lake.py."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from cde_core.lake import Lake, Provenance
from cde_exchanges.fakes.synthetic_trades import random_trades
from cde_exchanges.lake.inventory import inventory
from cde_exchanges.lake.inventory_cache import InventoryCache

fastapi = pytest.importorskip("fastapi")


class FooterCountingLake(Lake):
    """The real lake, counting how many partition footers it reads."""

    def __init__(self, root: Path | str) -> None:
        super().__init__(root)
        self.footer_reads = 0
        self._count = threading.Lock()

    def read_provenance(self, path: Path) -> Provenance | None:  # type: ignore[override]
        with self._count:
            self.footer_reads += 1
        return Lake.read_provenance(path)


def commit_day(lake: Lake, symbol: str, day: date, rows: int = 10) -> None:
    table = random_trades(day, rows)
    lake.write_partition(lake.trades_dir("binance", "spot", symbol, day), table,
                         Provenance(source="test", rows=rows, first_trade_id=1, last_trade_id=rows))


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> FooterCountingLake:
    """21 partitions in a local lake, or in a bucket (where the footers' stamps come from the listing)."""
    lake = FooterCountingLake(tmp_path / "lake" if request.param == "local" else request.getfixturevalue("s3_lake_url"))
    for k in range(7):
        for offset in range(3):
            commit_day(lake, f"SYM{k}USDT", date(2024, 1, 1) + timedelta(days=offset))
    lake.footer_reads = 0
    return lake


def client_for(lake: Lake, cache: InventoryCache) -> Any:
    from fastapi.testclient import TestClient

    from cde_exchanges import api

    app = fastapi.FastAPI()
    app.state.lake = lake
    app.include_router(api.router)
    app.state.lake_inventory = cache
    return TestClient(app)


def test_pages_cover_the_fresh_inventory_exactly_once(lake: FooterCountingLake) -> None:
    client = client_for(lake, InventoryCache(lake, ttl_s=3600))
    expected = [i.model_dump(mode="json") for i in inventory(lake)]
    pages, offset = [], 0
    while True:
        answer = client.get("/lake", params={"limit": 3, "offset": offset})
        assert answer.status_code == 200 and answer.headers["X-Total-Count"] == "7"
        if not answer.json():
            break
        pages.append(answer.json())
        offset += 3
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [row for page in pages for row in page] == expected
    assert client.get("/lake", params={"symbol": "SYM3USDT"}).json() == [expected[3]]
    assert client.get("/lake", params={"limit": 0}).status_code == 422


def test_a_filter_value_the_lake_does_not_hold_names_the_nearest(lake: FooterCountingLake) -> None:
    from cde_core.errors import NotFoundError

    snapshot = InventoryCache(lake, ttl_s=3600).snapshot()
    snapshot.check_filter(exchange="binance", market="spot", symbol="SYM3USDT")  # held: no error
    with pytest.raises(NotFoundError, match="no symbol 'SYM3USDX'") as missing:
        snapshot.check_filter(symbol="SYM3USDX")
    assert "SYM3USDT" in (missing.value.hint or "")
    with pytest.raises(NotFoundError, match="no market 'spto'"):
        snapshot.check_filter(exchange="binance", market="spto")


def test_concurrent_clients_share_one_scan(lake: FooterCountingLake) -> None:
    cache = InventoryCache(lake, ttl_s=3600)
    client = client_for(lake, cache)
    answers: list[int] = []
    barrier = threading.Barrier(20)

    def ask() -> None:
        barrier.wait()
        answers.append(len(client.get("/lake").json()))

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [7] * 20
    assert cache.rebuilds == 1 and lake.footer_reads == 21  # 7 symbols x 3 days, read once


def test_a_commit_shows_up_and_only_new_footers_are_read(lake: FooterCountingLake) -> None:
    cache = InventoryCache(lake, ttl_s=0.0)  # every request starts a rebuild: the worst case for reads
    client = client_for(lake, cache)
    assert len(client.get("/lake").json()) == 7
    cache.settle()
    reads = lake.footer_reads
    commit_day(lake, "SYM0USDT", date(2024, 1, 4), rows=5)
    commit_day(lake, "NEWUSDT", date(2024, 1, 1))
    client.get("/lake")  # served the snapshot from before the commits, started the rebuild
    cache.settle()
    rows = {r["symbol"]: r for r in client.get("/lake").json()}
    assert len(rows) == 8 and rows["SYM0USDT"]["days"] == 4 and rows["SYM0USDT"]["rows"] == 35
    assert lake.footer_reads - reads == 2  # the two new partitions, not the 21 known ones
    cache.settle()
    assert [r for r in client.get("/lake").json()] == [i.model_dump(mode="json") for i in inventory(lake)]


def test_a_partition_linked_out_of_the_lake_is_an_issue_not_read(lake: FooterCountingLake, tmp_path: Path) -> None:
    if lake.is_object_store:
        pytest.skip("a bucket has no symbolic links")
    outside = tmp_path / "outside.parquet"
    (lake.root / "trades" / "exchange=binance" / "market=spot" / "symbol=SYM0USDT" / "date=2024-01-02" /
     "part-0.parquet").rename(outside)
    link = lake.root / "trades" / "exchange=binance" / "market=spot" / "symbol=SYM0USDT" / "date=2024-01-02"
    (link / "part-0.parquet").symlink_to(outside)
    rows = {r["symbol"]: r for r in client_for(lake, InventoryCache(lake)).get("/lake").json()}
    assert rows["SYM0USDT"]["rows"] == 20 and "path leaves the lake" in rows["SYM0USDT"]["issues"][0]
    assert str(tmp_path) not in str(rows["SYM0USDT"]["issues"])


def poll_until(check: Any, *, what: str, deadline_s: float = 120.0) -> Any:
    """Ask ``check()`` until it answers something truthy. The deadline only turns a hang into a failure;
    the bound the tests assert is counted in refreshes, not seconds (the machine may be loaded)."""
    import time

    give_up = time.monotonic() + deadline_s
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > give_up:
            pytest.fail(f"{what}: not seen within {deadline_s:g} s")
        time.sleep(0.01)


def test_a_commit_shows_up_by_the_first_refresh_started_after_it(lake: FooterCountingLake) -> None:
    """The documented bound: a partition committed at time t is served once the first refresh that
    starts after t has finished, and a refresh starts once the snapshot is ``ttl_s`` old."""
    cache = InventoryCache(lake, ttl_s=0.05)
    client = client_for(lake, cache)
    assert len(client.get("/lake").json()) == 7
    for _ in range(3):  # commits land while refreshes come and go
        cache.settle()
        started_before = cache.refreshes
        commit_day(lake, "SYM1USDT", date(2024, 2, 1) + timedelta(days=cache.refreshes % 20), rows=3)
        expected = {i.symbol: i.model_dump(mode="json") for i in inventory(lake)}["SYM1USDT"]

        def served(expected: dict[str, Any] = expected) -> bool:
            return bool(client.get("/lake", params={"symbol": "SYM1USDT"}).json() == [expected])

        poll_until(served, what="the committed partition in GET /lake")
        # the first refresh after the commit shows it (a second may have started before the poll read it)
        assert cache.refreshes - started_before <= 2


def test_etag_answers_304_until_the_page_changes(lake: FooterCountingLake) -> None:
    cache = InventoryCache(lake, ttl_s=3600)
    client = client_for(lake, cache)
    first = client.get("/lake", params={"symbol": "SYM2USDT"})
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag.startswith('"')
    again = client.get("/lake", params={"symbol": "SYM2USDT"}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    assert client.get("/lake", params={"symbol": "SYM2USDT"},
                      headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    other_page = client.get("/lake", params={"symbol": "SYM3USDT"}, headers={"If-None-Match": etag})
    assert other_page.status_code == 200 and other_page.headers["ETag"] != etag  # an ETag is per page
    commit_day(lake, "SYM2USDT", date(2024, 1, 9))
    cache.invalidate()  # what a download task's end does: refresh now, whatever the TTL
    cache.settle()
    changed = client.get("/lake", params={"symbol": "SYM2USDT"}, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.json() == [i.model_dump(mode="json") for i in inventory(lake, symbol="SYM2USDT")]


def test_a_refresh_of_an_unchanged_lake_keeps_the_snapshot(lake: FooterCountingLake) -> None:
    """No footer read, no recomputation, the same ETags, when no part file changed."""
    cache = InventoryCache(lake, ttl_s=3600)
    client = client_for(lake, cache)
    etag = client.get("/lake").headers["ETag"]
    rebuilds, reads = cache.rebuilds, lake.footer_reads
    cache.invalidate()
    cache.settle()
    assert cache.refreshes == 2 and cache.rebuilds == rebuilds and lake.footer_reads == reads
    assert client.get("/lake", headers={"If-None-Match": etag}).status_code == 304
    # a rewritten partition (same path, new size and time) is a change
    commit_day(lake, "SYM0USDT", date(2024, 1, 1), rows=11)
    cache.invalidate()
    cache.settle()
    assert cache.rebuilds == rebuilds + 1 and lake.footer_reads == reads + 1
    assert {r["symbol"]: r["rows"] for r in client.get("/lake").json()}["SYM0USDT"] == 31
