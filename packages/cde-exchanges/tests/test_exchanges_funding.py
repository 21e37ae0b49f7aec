"""Binance funding rates: generated monthly files → local server → download → funding/ tree → read back
exactly (um and cm); the running month is refused with the reason; faults and resume as for trades."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cde_core.config import CdeConfig
from cde_core.errors import NotFoundError
from cde_core.lake import Lake
from cde_core.lake_location import arrow_target
from cde_core.schemas import FUNDING_SCHEMA
from cde_exchanges.download.models import DownloadReport, DownloadRequest
from cde_exchanges.download.service import run_download
from cde_exchanges.fakes.archive_maker import make_archive
from cde_exchanges.fakes.archive_server import ArchiveServer, Fault
from cde_exchanges.fakes.archive_writer import ArchiveVariant, conform, write_archive_file
from cde_exchanges.fakes.synthetic_funding import random_funding
from cde_exchanges.formats.binance import BinanceArchive
from cde_exchanges.lake.inventory import inventory, verify

TODAY = date(2024, 4, 10)
MONTHS = [date(2024, 1, 1), date(2024, 2, 1)]
BINANCE = BinanceArchive()


def publish(root: Path, market: str, symbol: str, months: list[date] = MONTHS) -> dict[date, pa.Table]:
    expected = {}
    for i, month in enumerate(months):
        rates = random_funding(month.year, month.month, seed=i, interval_hours=8 if i == 0 else 4)
        file = BINANCE.monthly_file(market, "fundingRate", symbol, month.year, month.month)
        write_archive_file(root, file, rates, ArchiveVariant(contract_size=100.0))
        expected[month] = conform(rates, file, ArchiveVariant())
    return expected


def download(config: CdeConfig, market: str, symbol: str, start: date, end: date, **extra: object) -> DownloadReport:
    request = DownloadRequest(exchange="binance", market=market, kind="fundingRate", symbols=[symbol],
                              start=start, end=end, **extra)
    return run_download(request, adapter=BINANCE, config=config, today=TODAY)


def read_back(config: CdeConfig, market: str, symbol: str, month: date) -> pa.Table:
    folder = Lake(config.data_root).funding_dir("binance", market, symbol, month)
    where, filesystem = arrow_target(folder / "part-0.parquet")
    return pq.read_table(where, filesystem=filesystem).replace_schema_metadata(None)


@pytest.mark.parametrize("data_root", ["local", "s3"], indirect=True)
@pytest.mark.parametrize(("market", "symbol"), [("um", "BTCUSDT"), ("cm", "BTCUSD_PERP")])
def test_funding_round_trip(market: str, symbol: str, archive_root: Path, server: ArchiveServer,
                            config: CdeConfig) -> None:
    expected = publish(archive_root, market, symbol)
    file = BINANCE.monthly_file(market, "fundingRate", symbol, 2024, 1)
    assert file.rel_path == f"data/futures/{market}/monthly/fundingRate/{symbol}/{symbol}-fundingRate-2024-01.zip"
    report = download(config, market, symbol, date(2024, 1, 15), date(2024, 2, 3))  # any day of a month: the month
    assert report.count_days("written") == 2 and report.count_files("downloaded") == 2, report.summary()
    assert report.partition_unit == "months"
    lake = Lake(config.data_root)
    for month, table in expected.items():
        assert table.schema == FUNDING_SCHEMA
        assert read_back(config, market, symbol, month).equals(table)
        prov = lake.read_provenance(lake.funding_dir("binance", market, symbol, month))
        assert prov is not None and prov.rows == table.num_rows and prov.extra["kind"] == "fundingRate"
    assert (lake.root / "funding" / "exchange=binance" / f"market={market}" / f"symbol={symbol}"
            / "month=2024-02" / "part-0.parquet").exists()
    again = download(config, market, symbol, date(2024, 1, 1), date(2024, 2, 29))
    assert again.count_days("skipped") == 2 and not again.files
    [item] = inventory(lake)
    assert (item.tree, item.days, item.first_date, item.missing_days) == ("funding", 2, date(2024, 1, 1), [])
    assert all(c.ok for c in verify(lake))


def test_the_running_month_is_not_published(archive_root: Path, server: ArchiveServer, config: CdeConfig) -> None:
    publish(archive_root, "um", "BTCUSDT")
    with pytest.raises(NotFoundError, match="monthly files only, after the month ends: 2024-04 not published yet"):
        download(config, "um", "BTCUSDT", date(2024, 4, 1), date(2024, 4, 9))
    report = download(config, "um", "BTCUSDT", date(2024, 2, 1), date(2024, 4, 9))
    statuses = [(d.date, d.status) for d in report.days]
    assert statuses == [(date(2024, 2, 1), "written"), (date(2024, 3, 1), "missing"), (date(2024, 4, 1), "missing")]
    assert "2024-04 not published yet" in report.days[-1].error  # type: ignore[operator]
    assert not [f for f in report.files if "daily" in f.url]  # no daily fallback for a monthly-only kind


def test_funding_faults(archive_root: Path, server: ArchiveServer, config: CdeConfig) -> None:
    expected = publish(archive_root, "um", "BTCUSDT")
    server.add_fault(Fault("bad_checksum", times=1), "*.CHECKSUM")
    server.add_fault(Fault("429", times=1, retry_after=0.1), "*2024-02.zip")
    report = download(config, "um", "BTCUSDT", MONTHS[0], date(2024, 2, 29))
    assert report.count_days("written") == 2, report.summary()
    assert read_back(config, "um", "BTCUSDT", MONTHS[1]).equals(expected[MONTHS[1]])
    server.add_fault(Fault("503"), "*.zip")
    report = download(config, "um", "BTCUSDT", MONTHS[0], date(2024, 2, 29), force=True)
    assert report.count_days("failed") == 2 and all("\n" not in e for e in report.summary()["errors"])
    assert read_back(config, "um", "BTCUSDT", MONTHS[0]).equals(expected[MONTHS[0]])  # earlier data intact
    assert not [p for p in Path(config.data_root).rglob("*") if ".tmp-" in p.name]


def test_spot_has_no_funding(config: CdeConfig) -> None:
    with pytest.raises(NotFoundError, match="no archive kind 'fundingRate'"):
        download(config, "spot", "BTCUSDT", MONTHS[0], MONTHS[0])


def test_make_archive_writes_monthly_funding_files(archive_root: Path) -> None:
    report = make_archive(archive_root, BINANCE, "um", "fundingRate", ["BTCUSDT"], date(2024, 1, 20),
                          date(2024, 2, 5), day_trades=lambda s, d: pa.table({}))
    assert report.written == 2
    names = sorted(p.name for p in archive_root.rglob("*.zip"))
    assert names == ["BTCUSDT-fundingRate-2024-01.zip", "BTCUSDT-fundingRate-2024-02.zip"]
