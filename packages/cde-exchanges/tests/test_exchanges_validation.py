"""The streaming validator against a slow, obvious reference; findings reach provenance and the
summary without any row being dropped; ``lake verify`` catches a tampered partition."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from cde_core.config import CdeConfig
from cde_core.lake import Lake, Provenance
from cde_core.schemas import TRADES_SCHEMA
from cde_exchanges.download.models import DownloadRequest
from cde_exchanges.download.service import run_download
from cde_exchanges.extraction.trade_validation import TradeStreamValidator
from cde_exchanges.fakes.archive_server import ArchiveServer
from cde_exchanges.fakes.archive_writer import ArchiveVariant, write_archive_file
from cde_exchanges.fakes.synthetic_trades import random_trades
from cde_exchanges.formats.binance import BinanceArchive
from cde_exchanges.lake.inventory import inventory, verify


def reference(ids: list[int], ts: list[int]) -> dict[str, int]:
    out = {"gaps": 0, "missing_ids": 0, "duplicates": 0, "non_monotonic_ids": 0, "non_monotonic_ts": 0}
    seen: set[int] = set()
    for i, value in enumerate(ids):
        if value in seen:
            out["duplicates"] += 1
        seen.add(value)
        if i:
            step = value - ids[i - 1]
            out["gaps"] += step > 1
            out["missing_ids"] += max(step - 1, 0)
            out["non_monotonic_ids"] += step < 0
            out["non_monotonic_ts"] += ts[i] < ts[i - 1]
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3_000_000), st.integers(0, 50)), min_size=1, max_size=60),
       st.integers(1, 7))
def test_validator_matches_reference(rows: list[tuple[int, int]], pieces: int) -> None:
    ids = [r[0] for r in rows]
    ts = [r[1] for r in rows]
    validator = TradeStreamValidator()
    cuts = sorted({0, len(ids), *np.linspace(0, len(ids), pieces + 1).astype(int).tolist()})
    for a, b in itertools.pairwise(cuts):
        validator.observe(0, np.array(ids[a:b], dtype=np.int64), np.array(ts[a:b], dtype=np.int64))
    found = validator.findings(0).as_dict()
    assert {k: found[k] for k in reference(ids, ts)} == reference(ids, ts)
    assert found["rows"] == len(ids)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=80), st.integers(0, 1 << 22), st.integers(1, 6),
       st.lists(st.integers(0, 79), max_size=4))
def test_sorted_segments_match_reference(steps: list[int], start: int, pieces: int, repeats: list[int]) -> None:
    """Mostly increasing ids across bitmap blocks, with repeats of earlier ids (the fast path and the
    general path both run, and must count exactly like the reference)."""
    ids = (start + np.cumsum(steps) * 300_000).tolist()
    ids += [ids[i % len(ids)] for i in repeats]
    ts = list(range(len(ids)))
    validator = TradeStreamValidator()
    cuts = sorted({0, len(ids), *np.linspace(0, len(ids), pieces + 1).astype(int).tolist()})
    for a, b in itertools.pairwise(cuts):
        validator.observe(0, np.array(ids[a:b], dtype=np.int64), np.array(ts[a:b], dtype=np.int64))
    found = validator.findings(0).as_dict()
    assert {k: found[k] for k in reference(ids, ts)} == reference(ids, ts)


def test_findings_in_provenance_and_summary_without_dropping(archive_root: Path, server: ArchiveServer,
                                                             config: CdeConfig) -> None:
    adapter = BinanceArchive()
    d1, d2 = date(2024, 6, 10), date(2024, 6, 11)
    first = random_trades(d1, 100, first_id=1)  # ids 1..100
    second = random_trades(d2, 100, first_id=150)  # boundary gap: 101..149 missing
    ids = second.column("trade_id").to_numpy().copy()
    ids[10] = ids[9]  # a duplicate (and a gap after it)
    ids[50], ids[51] = ids[51], ids[50]  # out of order
    second = second.set_column(1, "trade_id", pa.array(ids))
    for day, table in ((d1, first), (d2, second)):
        write_archive_file(archive_root, adapter.daily_file("spot", "trades", "BTCUSDT", day), table,
                           ArchiveVariant())
    request = DownloadRequest(exchange="binance", market="spot", symbols=["BTCUSDT"], start=d1, end=d2)
    report = run_download(request, adapter=adapter, config=config, today=date(2024, 6, 20))
    lake = Lake(config.data_root)
    got = pq.read_table(lake.trades_dir("binance", "spot", "BTCUSDT", d2) / "part-0.parquet")
    assert got.column("trade_id").to_pylist() == ids.tolist()  # nothing dropped, nothing reordered
    prov = lake.read_provenance(lake.trades_dir("binance", "spot", "BTCUSDT", d2))
    assert prov is not None and prov.rows == 100
    v = prov.extra["validation"]
    assert v["duplicates"] == 1 and v["non_monotonic_ids"] == 1
    # ids: 100 | 150..159, 159, 161..199, 201, 200, 202..249 → gaps at the day boundary, after the
    # duplicate, and on both sides of the swapped pair
    assert v["gaps"] == 4 and v["missing_ids"] == 49 + 1 + 1 + 1
    assert v["gap_examples"] == [[100, 150], [159, 161], [199, 201], [200, 202]]
    assert any("2024-06-11" in line and "duplicates=1" in line for line in report.summary()["issues"])
    first_day = lake.read_provenance(lake.trades_dir("binance", "spot", "BTCUSDT", d1))
    assert first_day is not None and first_day.extra["validation"]["gaps"] == 0


def test_boundary_gap_against_an_earlier_run(archive_root: Path, server: ArchiveServer, config: CdeConfig) -> None:
    adapter = BinanceArchive()
    d1, d2 = date(2024, 6, 10), date(2024, 6, 11)
    write_archive_file(archive_root, adapter.daily_file("spot", "trades", "BTCUSDT", d1),
                       random_trades(d1, 50, first_id=1), ArchiveVariant())
    write_archive_file(archive_root, adapter.daily_file("spot", "trades", "BTCUSDT", d2),
                       random_trades(d2, 50, first_id=60), ArchiveVariant())
    for day in (d1, d2):  # two separate runs
        run_download(DownloadRequest(exchange="binance", market="spot", symbols=["BTCUSDT"], start=day, end=day),
                     adapter=adapter, config=config, today=date(2024, 6, 20))
    lake = Lake(config.data_root)
    prov = lake.read_provenance(lake.trades_dir("binance", "spot", "BTCUSDT", d2))
    assert prov is not None and prov.extra["validation"]["gap_examples"] == [[50, 60]]
    item = inventory(lake)[0]
    assert (item.days, item.rows, item.boundary_gaps, item.missing_days) == (2, 100, 1, [])



def test_a_day_without_provenance_breaks_no_id_chain_and_is_said_to_be_uncounted(tmp_path: Path) -> None:
    """Days 1–3 continue each other (ids 1–20, 21–40, 41–60); day 2 lost its provenance. ``lake ls`` used to
    hold day 3 against day 1's last id and report a boundary gap that is not there, and to show the rows of
    days 1 and 3 as the symbol's rows without saying day 2's are not in them."""
    lake = Lake(tmp_path)
    days = [date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)]
    for i, day in enumerate(days):
        table = random_trades(day, 20, first_id=1 + 20 * i)
        lake.write_partition(lake.trades_dir("binance", "spot", "BTCUSDT", day), table,
                             Provenance(source="x", rows=20, first_trade_id=1 + 20 * i, last_trade_id=20 + 20 * i))
    bare = lake.trades_dir("binance", "spot", "BTCUSDT", days[1]) / "part-0.parquet"
    pq.write_table(pq.read_table(bare).replace_schema_metadata(None), bare)
    [item] = inventory(lake)
    assert (item.days, item.rows, item.boundary_gaps, item.missing_days) == (3, 40, 0, [])
    assert item.issues == ["2024-01-02: no provenance; its rows are not in the row count and its trade ids not "
                           "in the gap counts"]

def test_verify_catches_tampering(tmp_path: Path) -> None:
    lake = Lake(tmp_path)
    day = date(2024, 1, 2)
    table = random_trades(day, 20)
    folder = lake.trades_dir("binance", "spot", "BTCUSDT", day)
    good = Provenance(source="x", rows=20, first_trade_id=1, last_trade_id=20)
    lake.write_partition(folder, table, good)
    other = lake.trades_dir("binance", "spot", "BTCUSDT", date(2024, 1, 4))
    lake.write_partition(other, table.slice(0, 19), good)  # one row short of its provenance
    wrong_day = lake.trades_dir("binance", "spot", "ETHUSDT", date(2024, 1, 5))
    lake.write_partition(wrong_day, table, good)
    checks = {Path(c.path).parent.name + Path(c.path).parent.parent.name: c for c in verify(lake)}
    assert checks["date=2024-01-02symbol=BTCUSDT"].ok
    assert "19 rows" in (checks["date=2024-01-04symbol=BTCUSDT"].problem or "")
    assert "outside" in (checks["date=2024-01-05symbol=ETHUSDT"].problem or "")
    inv = {i.symbol: i for i in inventory(lake)}
    assert inv["BTCUSDT"].missing_days == [date(2024, 1, 3)]
    assert TRADES_SCHEMA.equals(pq.read_schema(folder / "part-0.parquet").remove_metadata())
