"""``cde lake verify`` on hand-damaged trees: every file a dataset reader would take as data and that is
not a whole partition matching its provenance fails verify, named, with exit 1 — and ``cde lake ls``
keeps working beside it. Lakes written by ``cde download`` through the local archive server, on a local
disk and in a bucket.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cde_core.config import CdeConfig
from cde_core.lake import PART_FILE, PROVENANCE_KEY, Lake
from cde_exchanges.fakes.archive_server import ArchiveServer
from cde_exchanges.fakes.archive_writer import ArchiveVariant, write_archive_file
from cde_exchanges.fakes.synthetic_funding import random_funding
from cde_exchanges.fakes.synthetic_trades import random_trades
from cde_exchanges.formats.binance import BinanceArchive

BINANCE = BinanceArchive()
DAYS = [date(2024, 6, 10), date(2024, 6, 11), date(2024, 6, 12), date(2024, 6, 13)]


def download(archive_root: Path, cde: Any) -> Lake:
    for i, day in enumerate(DAYS):
        write_archive_file(archive_root, BINANCE.daily_file("spot", "trades", "BTCUSDT", day),
                           random_trades(day, 200, seed=i, first_id=1 + 200 * i), ArchiveVariant())
    result = cde.download("binance", "spot", "BTCUSDT", DAYS[0], DAYS[-1])
    assert result.exit_code == 0, result.output
    assert cde("lake", "verify").exit_code == 0
    return Lake(cde.config.data_root)


def put(path: Any, data: bytes) -> None:
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def bad_lines(result: Any) -> dict[str, str]:
    """verify's ``BAD <path>: <problem>`` lines, by path."""
    lines = [line.removeprefix("BAD ") for line in result.output.splitlines() if line.startswith("BAD ")]
    return dict(line.split(": ", 1) for line in lines)


@pytest.mark.parametrize("data_root", ["local", "s3"], indirect=True)
def test_verify_names_every_damaged_partition_and_every_stray_file(archive_root: Path, server: ArchiveServer,
                                                                   config: CdeConfig, cde: Any) -> None:
    lake = download(archive_root, cde)
    part = {day: lake.trades_dir("binance", "spot", "BTCUSDT", day) / PART_FILE for day in DAYS}
    good = part[DAYS[0]].read_bytes()
    part[DAYS[1]].write_bytes(good[: len(good) // 2])  # truncated
    part[DAYS[2]].write_bytes(b"")  # empty
    # another schema (ts in ms), with a valid provenance copied in: only the schema check can see it
    table = pq.read_table(pa.BufferReader(good))
    provenance = pq.read_metadata(pa.BufferReader(good)).metadata[PROVENANCE_KEY]
    other = table.set_column(0, "ts", table.column("ts").cast(pa.timestamp("ms", tz="UTC")))
    sink = pa.BufferOutputStream()
    pq.write_table(other.replace_schema_metadata({PROVENANCE_KEY: provenance}), sink)
    part[DAYS[3]].write_bytes(sink.getvalue().to_pybytes())
    symbol_dir = part[DAYS[0]].parent.parent
    strays = [part[DAYS[0]].parent / "notes.txt",  # beside a partition
              symbol_dir / "date=2024-06-14" / "part-1.parquet",  # another part name
              lake.root / "trades" / "README"]  # above the partition folders
    for stray in strays:
        put(stray, good if stray.name.endswith(".parquet") else b"hello")
    not_a_day = symbol_dir / "date=2024-13-45" / PART_FILE  # a partition file in a folder that is no day
    put(not_a_day, good)
    hidden = [part[DAYS[0]].parent / ".part-0.parquet.tmp-4242-deadbeef", symbol_dir / "_SUCCESS"]
    for path in hidden:  # what dataset readers skip: not data, not findings
        put(path, b"x")

    result = cde("lake", "verify")
    assert result.exit_code == 1, result.output
    bad = bad_lines(result)
    assert set(bad) == {str(p) for p in (part[DAYS[1]], part[DAYS[2]], part[DAYS[3]], *strays, not_a_day)}, bad
    assert "unreadable" in bad[str(part[DAYS[1]])] and "unreadable" in bad[str(part[DAYS[2]])]
    assert "schema differs" in bad[str(part[DAYS[3]])]
    assert all("stray file" in bad[str(p)] for p in strays)
    assert "date=2024-13-45 is not a day" in bad[str(not_a_day)]
    assert "internal error" not in result.output
    assert f"{len(bad)} bad" in result.output
    # a filter narrows the stray files too: the README above every exchange is not binance's
    filtered = bad_lines(cde("lake", "verify", "--exchange", "binance"))
    assert str(strays[2]) not in filtered and str(strays[0]) in filtered and str(not_a_day) in filtered

    listed = cde("lake", "ls", "--json")  # was an internal error on the folder that is no day
    assert listed.exit_code == 0 and "internal error" not in listed.output, listed.output

    for path in (*strays, not_a_day):
        path.unlink()
    for day in DAYS[1:]:
        part[day].unlink()
    result = cde("download", "--exchange", "binance", "--market", "spot", "--symbols", "BTCUSDT",
                 "--start", str(DAYS[0]), "--end", str(DAYS[-1]))
    assert result.exit_code == 0, result.output
    result = cde("lake", "verify")
    assert result.exit_code == 0 and "4 partitions checked, 0 bad" in result.output, result.output


@pytest.mark.parametrize("data_root", ["local", "s3"], indirect=True)
def test_a_partition_copied_from_another_symbol_tree_or_interval_fails_verify_and_is_downloaded_again(
        archive_root: Path, server: ArchiveServer, config: CdeConfig, cde: Any) -> None:
    """A whole, valid partition in the wrong folder (another symbol's day, an aggTrades day in ``trades/``,
    5m klines under ``interval=1m``) agrees with its own provenance and day, so verify passed it and a
    download skipped the day: BTCUSDT read ETHUSDT's trades. Its provenance names where it belongs."""
    day, other_day = DAYS[0], DAYS[1]
    for i, symbol in enumerate(("BTCUSDT", "ETHUSDT")):
        for kind, interval in (("trades", None), ("aggTrades", None), ("klines", "1m"), ("klines", "5m")):
            for d in (day, other_day):
                trades = random_trades(d, 300, seed=10 * i + d.day, first_id=1 + 300 * d.day)
                write_archive_file(archive_root, BINANCE.daily_file("spot", kind, symbol, d, interval), trades)
            extra = ["--kind", kind, *(["--interval", interval] if interval else [])]
            assert cde.download("binance", "spot", symbol, day, other_day, *extra).exit_code == 0
    lake = Lake(config.data_root)
    trades_dir = lake.trades_dir
    agg_dir = Lake(config.data_root, trade_kind="aggTrades").trades_dir
    original = {path: path.read_bytes() for path in (
        trades_dir("binance", "spot", "BTCUSDT", day) / PART_FILE,
        trades_dir("binance", "spot", "BTCUSDT", other_day) / PART_FILE,
        lake.klines_dir("binance", "spot", "1m", "BTCUSDT", day) / PART_FILE)}
    moved = {  # target: (source, what the problem says)
        trades_dir("binance", "spot", "BTCUSDT", day) / PART_FILE:
            (trades_dir("binance", "spot", "ETHUSDT", day) / PART_FILE, "symbol ETHUSDT, not BTCUSDT"),
        trades_dir("binance", "spot", "BTCUSDT", other_day) / PART_FILE:
            (agg_dir("binance", "spot", "BTCUSDT", other_day) / PART_FILE, "kind aggTrades, which is not kept in "
                                                                            "the trades tree"),
        lake.klines_dir("binance", "spot", "1m", "BTCUSDT", day) / PART_FILE:
            (lake.klines_dir("binance", "spot", "5m", "BTCUSDT", day) / PART_FILE, "interval 5m, not 1m"),
    }
    for target, (source, _) in moved.items():
        target.write_bytes(source.read_bytes())

    result = cde("lake", "verify")
    assert result.exit_code == 1, result.output
    bad = bad_lines(result)
    assert set(bad) == {str(target) for target in moved}, bad
    for target, (_, says) in moved.items():
        assert says in bad[str(target)] and "download the day again" in bad[str(target)], bad[str(target)]
    listed = cde("lake", "ls", "--json")
    assert listed.exit_code == 0 and "symbol ETHUSDT, not BTCUSDT" in listed.output, listed.output

    for kind, interval in (("trades", None), ("klines", "1m")):  # the next run takes them for absent
        extra = ["--kind", kind, *(["--interval", interval] if interval else [])]
        result = cde.download("binance", "spot", "BTCUSDT", day, other_day, *extra)
        assert result.exit_code == 0, result.output
    for path, data in original.items():
        assert pq.read_table(pa.BufferReader(path.read_bytes())).equals(pq.read_table(pa.BufferReader(data))), path
    assert cde("lake", "verify").exit_code == 0


def rewrite(path: Any, edit: Any) -> None:
    """Rewrite a committed partition with ``edit(table)``, keeping its schema and its provenance (what
    another tool writing into the lake, or an older cde, could leave)."""
    data = path.read_bytes()
    table = pq.read_table(pa.BufferReader(data))
    provenance = pq.read_metadata(pa.BufferReader(data)).metadata[PROVENANCE_KEY]
    edited = edit(table).cast(table.schema).replace_schema_metadata({PROVENANCE_KEY: provenance})
    sink = pa.BufferOutputStream()
    pq.write_table(edited, sink)
    path.write_bytes(sink.getvalue().to_pybytes())


def set_value(column: str, row: int, value: Any) -> Any:
    def edit(table: pa.Table) -> pa.Table:
        values = table.column(column).to_pylist()
        values[row] = value
        index = table.schema.get_field_index(column)
        return table.set_column(index, table.schema.field(index), pa.array(values, table.schema.field(index).type))
    return edit


def repeat_row(row: int, over: int) -> Any:
    """Row ``over`` replaced by a copy of row ``row`` (the row count stays)."""
    def edit(table: pa.Table) -> pa.Table:
        order = list(range(table.num_rows))
        order[over] = row
        return table.take(pa.array(order))
    return edit


@pytest.mark.parametrize("data_root", ["local", "s3"], indirect=True)
def test_rows_that_break_the_download_s_value_rules_fail_verify_naming_the_row(
        archive_root: Path, server: ArchiveServer, config: CdeConfig, cde: Any) -> None:
    """Verify compared a partition with its own provenance only, so a rewritten partition with the same
    rows, ids and times passed whatever its values: a negative price, a NaN quantity, a candle whose low
    is above its high or that lies off its interval, two candles or funding rows for one time."""
    day = DAYS[0]
    for d in DAYS[:2]:
        trades = random_trades(d, 300, seed=d.day, first_id=1 + 300 * d.day)
        write_archive_file(archive_root, BINANCE.daily_file("spot", "trades", "BTCUSDT", d), trades)
        write_archive_file(archive_root, BINANCE.daily_file("um", "klines", "BTCUSDT", d, "5m"), trades)
    write_archive_file(archive_root, BINANCE.monthly_file("um", "fundingRate", "BTCUSDT", 2024, 3),  # type: ignore[arg-type]
                       random_funding(2024, 3))
    assert cde.download("binance", "spot", "BTCUSDT", DAYS[0], DAYS[1]).exit_code == 0
    klines = cde.download("binance", "um", "BTCUSDT", DAYS[0], DAYS[1], "--kind", "klines", "--interval", "5m")
    assert klines.exit_code == 0, klines.output
    assert cde.download("binance", "um", "BTCUSDT", date(2024, 3, 1), date(2024, 3, 31),
                        "--kind", "fundingRate").exit_code == 0
    assert cde("lake", "verify").exit_code == 0
    lake = Lake(config.data_root)
    trades_part = lake.trades_dir("binance", "spot", "BTCUSDT", day) / PART_FILE
    klines_part = lake.klines_dir("binance", "um", "5m", "BTCUSDT", day) / PART_FILE
    funding_part = lake.funding_dir("binance", "um", "BTCUSDT", date(2024, 3, 1)) / PART_FILE
    cases = [
        (trades_part, set_value("price", 4, -5.0), "row 5: price is -5.0, not a positive finite number"),
        (trades_part, set_value("qty", 9, float("nan")), "row 10: qty is nan, not a finite number >= 0"),
        (trades_part, set_value("quote_qty", 0, float("inf")), "row 1: quote_qty is inf"),
        (klines_part, set_value("low", 3, 10.0**9), "row 4: open "),
        (klines_part, set_value("count", 2, -1), "row 3: count is -1"),
        (klines_part, repeat_row(5, 6), "appears 2 times"),
        (funding_part, set_value("funding_interval_hours", 8, 0), "row 9: funding_interval_hours is 0"),
        (funding_part, set_value("funding_rate", 1, float("-inf")), "row 2: funding_rate is -inf"),
        (funding_part, repeat_row(0, 1), "calc_time 2024-03-01T00:00:00"),
    ]
    for path, edit, says in cases:
        original = path.read_bytes()
        rewrite(path, edit)
        result = cde("lake", "verify")
        assert result.exit_code == 1, (says, result.output)
        bad = bad_lines(result)
        assert set(bad) == {str(path)} and says in bad[str(path)], (says, bad)
        path.write_bytes(original)
    assert cde("lake", "verify").exit_code == 0
