"""Klines: generated archive (klines derived from generated trades) → local server → download → lake →
read back exactly, for every market, header rule, timestamp unit, daily and monthly files; faults end
in verified data or one-line failures; a second run skips what is there."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cde_core.config import CdeConfig
from cde_core.errors import DataError
from cde_core.lake import Lake
from cde_core.lake_location import arrow_target
from cde_core.schemas import KLINES_SCHEMA
from cde_exchanges.download.models import DownloadReport, DownloadRequest
from cde_exchanges.download.service import run_download
from cde_exchanges.fakes.archive_server import ArchiveServer, Fault
from cde_exchanges.fakes.archive_writer import ArchiveVariant, conform, write_archive_file
from cde_exchanges.fakes.synthetic_trades import random_trades
from cde_exchanges.formats import csv_formats
from cde_exchanges.formats.binance import BinanceArchive

TODAY = date(2025, 6, 15)
BINANCE = BinanceArchive()

# (market, symbol, interval, variant, days)
CASES = [
    ("spot", "BTCUSDT", "1m", ArchiveVariant(), [date(2024, 12, 31), date(2025, 1, 1)]),  # ms then µs
    ("spot", "ETHUSDT", "1s", ArchiveVariant(), [date(2024, 3, 1)]),
    ("um", "BTCUSDT", "1h", ArchiveVariant(), [date(2022, 4, 30), date(2022, 5, 1)]),  # no header, then header
    ("um", "ETHUSDT", "15m", ArchiveVariant(header=False), [date(2024, 3, 1)]),
    ("cm", "BTCUSD_PERP", "5m", ArchiveVariant(contract_size=100.0), [date(2024, 3, 1)]),
    ("cm", "ETHUSD_PERP", "1d", ArchiveVariant(contract_size=10.0), [date(2022, 3, 1)]),
]


def publish(root: Path, market: str, symbol: str, interval: str, variant: ArchiveVariant,
            days: list[date]) -> dict[date, pa.Table]:
    expected = {}
    for i, day in enumerate(days):
        trades = random_trades(day, 3_000 + 37 * i, seed=i)
        file = BINANCE.daily_file(market, "klines", symbol, day, interval)
        write_archive_file(root, file, trades, variant)
        expected[day] = conform(trades, file, variant)
    return expected


def download(config: CdeConfig, market: str, symbol: str, interval: str, start: date, end: date,
             **extra: object) -> DownloadReport:
    request = DownloadRequest(exchange="binance", market=market, kind="klines", interval=interval,
                              symbols=[symbol], start=start, end=end, **extra)
    return run_download(request, adapter=BINANCE, config=config, today=TODAY)


def read_back(config: CdeConfig, market: str, symbol: str, interval: str, day: date) -> pa.Table:
    folder = Lake(config.data_root).klines_dir("binance", market, interval, symbol, day)
    where, filesystem = arrow_target(folder / "part-0.parquet")
    return pq.read_table(where, filesystem=filesystem).replace_schema_metadata(None)


@pytest.mark.parametrize("data_root", ["local", "s3"], indirect=True)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}-{c[4][0]}")
def test_klines_round_trip(case: tuple, archive_root: Path, server: ArchiveServer, config: CdeConfig) -> None:
    market, symbol, interval, variant, days = case
    expected = publish(archive_root, market, symbol, interval, variant, days)
    report = download(config, market, symbol, interval, days[0], days[-1])
    assert report.count_days("written") == len(days), report.summary()
    lake = Lake(config.data_root)
    for day, table in expected.items():
        assert table.schema == KLINES_SCHEMA and table.num_rows > 0
        assert read_back(config, market, symbol, interval, day).equals(table)
        prov = lake.read_provenance(lake.klines_dir("binance", market, interval, symbol, day))
        assert prov is not None and prov.rows == table.num_rows
        assert prov.extra["kind"] == "klines" and prov.extra["interval"] == interval
        assert prov.extra["validation"] == {"duplicates": 0, "non_monotonic_ts": 0}
    assert download(config, market, symbol, interval, days[0], days[-1]).count_days("skipped") == len(days)


@pytest.mark.parametrize("case", CASES[:3], ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}")
def test_klines_round_trip_in_tiny_pieces(case: tuple, archive_root: Path, server: ArchiveServer,
                                          config: CdeConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_formats, "CHUNK_SIZE", 700)
    test_klines_round_trip(case, archive_root, server, config)


def test_klines_header_rules_match_the_archive(archive_root: Path) -> None:
    """Spot klines never have a header; futures from 2022-05 (issues #246, #283)."""
    trades = random_trades(date(2023, 10, 27), 50)
    for market, header in (("spot", False), ("um", True), ("cm", True)):
        file = BINANCE.daily_file(market, "klines", "BTCUSDT", date(2023, 10, 27), "1h")
        path = write_archive_file(archive_root, file, trades, ArchiveVariant(contract_size=100.0))
        with zipfile.ZipFile(path) as z:
            assert z.namelist() == ["BTCUSDT-1h-2023-10-27.csv"]
            first = z.read(z.namelist()[0]).decode().splitlines()[0]
        assert first.startswith("open_time,open,high") == header, first
        if market == "spot":  # every number with 8 decimals, as in issue #283's spot rows
            assert all(len(f.split(".")[1]) == 8 for f in first.split(",") if "." in f), first
    assert file.rel_path == "data/futures/cm/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2023-10-27.zip"


def test_monthly_klines_file_splits_into_days(archive_root: Path, server: ArchiveServer,
                                              config: CdeConfig) -> None:
    days = [date(2024, 2, d) for d in range(1, 30)]
    file = BINANCE.monthly_file("um", "klines", "BTCUSDT", 2024, 2, "1h")
    trades = pa.concat_tables([random_trades(d, 200, seed=d.day, first_id=1 + d.day * 1000) for d in days])
    write_archive_file(archive_root, file, trades, ArchiveVariant())
    expected = conform(trades, file, ArchiveVariant())
    report = download(config, "um", "BTCUSDT", "1h", days[0], days[-1])
    assert report.count_days("written") == 29 and report.count_files("downloaded") == 1, report.summary()
    got = pa.concat_tables([read_back(config, "um", "BTCUSDT", "1h", d) for d in days])
    assert got.equals(expected)


def test_klines_faults(archive_root: Path, server: ArchiveServer, config: CdeConfig) -> None:
    day = date(2024, 3, 1)
    publish(archive_root, "um", "BTCUSDT", "1m", ArchiveVariant(), [day])
    server.add_fault(Fault("bad_checksum", times=1), "*.CHECKSUM")
    server.add_fault(Fault("truncate", times=1), "*.zip")
    assert download(config, "um", "BTCUSDT", "1m", day, day).count_days("written") == 1
    report = download(config, "um", "BTCUSDT", "1m", date(2024, 3, 2), date(2024, 3, 2))
    assert report.count_days("missing") == 1  # 404: no file that day
    server.add_fault(Fault("500"), "*.zip")
    report = download(config, "um", "BTCUSDT", "1m", day, day, force=True)
    assert report.count_days("failed") == 1 and len(report.summary()["errors"]) == 1
    assert "\n" not in report.summary()["errors"][0]
    assert read_back(config, "um", "BTCUSDT", "1m", day).num_rows > 0  # the good partition stays
    assert not [p for p in Path(config.data_root).rglob("*") if ".tmp-" in p.name]


@pytest.mark.parametrize(("market", "interval", "message"), [
    ("um", "1s", "spot only"), ("spot", "7m", "unknown kline interval"), ("spot", None, "need an interval")])
def test_bad_intervals_are_one_line_errors(market: str, interval: str | None, message: str,
                                           config: CdeConfig) -> None:
    with pytest.raises(DataError, match=message):
        download(config, market, "BTCUSDT", interval, date(2024, 3, 1), date(2024, 3, 1))  # type: ignore[arg-type]



def test_an_interval_for_another_kind_is_refused(config: CdeConfig) -> None:
    request = DownloadRequest(exchange="binance", market="spot", kind="trades", interval="1m", symbols=["BTCUSDT"],
                              start=date(2024, 3, 1), end=date(2024, 3, 1))
    with pytest.raises(DataError, match="--interval applies to klines, not trades"):
        run_download(request, adapter=BINANCE, config=config, today=TODAY)


def test_lake_ls_and_verify_cover_the_klines_tree(archive_root: Path, server: ArchiveServer,
                                                  config: CdeConfig) -> None:
    from cde_exchanges.lake.inventory import inventory, verify

    days = [date(2024, 3, 1), date(2024, 3, 3)]
    expected = publish(archive_root, "um", "BTCUSDT", "1h", ArchiveVariant(), days)
    download(config, "um", "BTCUSDT", "1h", days[0], days[-1])
    lake = Lake(config.data_root)
    [item] = inventory(lake)
    assert (item.tree, item.interval, item.days, item.missing_days) == ("klines", "1h", 2, [date(2024, 3, 2)])
    assert item.rows == sum(t.num_rows for t in expected.values())
    assert [c.ok for c in verify(lake)] == [True, True]
    folder = lake.klines_dir("binance", "um", "1h", "BTCUSDT", days[0])
    table = pq.read_table(folder / "part-0.parquet")
    pq.write_table(table.slice(1), folder / "part-0.parquet")  # a row lost, the provenance kept
    assert [c.problem for c in verify(lake)] == [f"{table.num_rows - 1} rows, provenance says {table.num_rows}",
                                                 None]


def test_a_republished_klines_file_with_fewer_candles_never_replaces_a_committed_day(
        archive_root: Path, server: ArchiveServer, config: CdeConfig) -> None:
    """As for trades: ``--force`` keeps the lake's whole day when the file now has fewer candles."""
    day = date(2024, 3, 1)
    expected = publish(archive_root, "um", "BTCUSDT", "1h", ArchiveVariant(), [day])
    assert download(config, "um", "BTCUSDT", "1h", day, day).count_days("written") == 1
    part = Lake(config.data_root).klines_dir("binance", "um", "1h", "BTCUSDT", day) / "part-0.parquet"
    whole = part.read_bytes()
    trades = random_trades(day, 3_000, seed=0)
    file = BINANCE.daily_file("um", "klines", "BTCUSDT", day, "1h")
    write_archive_file(archive_root, file, trades.slice(0, 1_500), ArchiveVariant())  # half the day's hours
    report = download(config, "um", "BTCUSDT", "1h", day, day, force=True)
    [outcome] = report.days
    assert outcome.status == "failed" and f"fewer than the {expected[day].num_rows:,}" in (outcome.error or "")
    assert file.name in (outcome.error or "") and str(part) in (outcome.error or "")
    assert part.read_bytes() == whole
