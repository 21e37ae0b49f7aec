"""Every fault of the local archive server ends with verified data or a clear one-line failure, and
never with a half-written partition, cache file or damage to earlier good data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cde_core.config import CdeConfig
from cde_core.lake import Lake
from cde_exchanges.download.models import DownloadReport, DownloadRequest
from cde_exchanges.download.service import run_download
from cde_exchanges.fakes.archive_server import ArchiveServer, Fault
from cde_exchanges.fakes.archive_writer import ArchiveVariant, write_archive_file
from cde_exchanges.fakes.synthetic_trades import random_trades
from cde_exchanges.formats.binance import BinanceArchive
from cde_exchanges.formats.okx import OkxArchive

TODAY = date(2024, 6, 20)
DAY1, DAY2 = date(2024, 6, 10), date(2024, 6, 11)
BINANCE = BinanceArchive()


def publish(root: Path, day: date, n: int = 400, first_id: int = 1, symbol: str = "BTCUSDT") -> None:
    file = BINANCE.daily_file("spot", "trades", symbol, day)
    write_archive_file(root, file, random_trades(day, n, first_id=first_id), ArchiveVariant())


def download(config: CdeConfig, start: date = DAY1, end: date = DAY1, **extra: object) -> DownloadReport:
    request = DownloadRequest(exchange="binance", market="spot", symbols=["BTCUSDT"], start=start, end=end,
                              **extra)
    return run_download(request, adapter=BINANCE, config=config, today=TODAY)


def no_leftovers(config: CdeConfig) -> bool:
    return not [p for p in Path(config.data_root).rglob("*") if ".tmp-" in p.name]


def partition(config: CdeConfig, day: date) -> Path:
    return Lake(config.data_root).trades_dir("binance", "spot", "BTCUSDT", day) / "part-0.parquet"


@pytest.mark.parametrize("fault", [Fault("429", times=1, retry_after=1), Fault("500", times=2),
                                   Fault("503", times=1), Fault("truncate", times=1),
                                   Fault("bad_checksum", times=1), Fault("slow", times=1, delay_s=2.5)],
                         ids=lambda f: f.kind)
def test_transient_fault_recovers(fault: Fault, archive_root: Path, server: ArchiveServer,
                                  config: CdeConfig) -> None:
    publish(archive_root, DAY1)
    pattern = "*.CHECKSUM" if fault.kind == "bad_checksum" else "*.zip"
    server.add_fault(fault, pattern)
    report = download(config)
    assert report.count_days("written") == 1, report.summary()
    assert fault.used == (fault.times or 0)
    assert len(server.requests("*.zip")) >= 2 or fault.kind == "bad_checksum"
    assert pq.read_metadata(partition(config, DAY1)).num_rows == 400
    assert no_leftovers(config)


def test_retry_after_is_honoured(archive_root: Path, server: ArchiveServer, config: CdeConfig) -> None:
    publish(archive_root, DAY1)
    server.add_fault(Fault("429", times=1, retry_after=1), "*.zip")
    waits: list[float] = []
    from cde_exchanges.fetching import archive_fetcher

    original = archive_fetcher.ArchiveFetcher.__init__

    def recording_init(self: archive_fetcher.ArchiveFetcher, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        self.sleep = waits.append

    archive_fetcher.ArchiveFetcher.__init__ = recording_init  # type: ignore[method-assign]
    try:
        report = download(config)
    finally:
        archive_fetcher.ArchiveFetcher.__init__ = original  # type: ignore[method-assign]
    assert report.count_days("written") == 1
    assert waits and waits[0] >= 1.0  # backoff_s is 0.01: only Retry-After explains a 1 s wait


@pytest.mark.parametrize("kind,pattern,message", [("503", "*.zip", "gave up after 4 attempts"),
                                                  ("truncate", "*.zip", "gave up"),
                                                  ("bad_checksum", "*.CHECKSUM", "does not match the published"),
                                                  ("429", "*.CHECKSUM", "429")])
def test_permanent_fault_fails_cleanly_and_keeps_earlier_data(kind: str, pattern: str, message: str,
                                                              archive_root: Path, server: ArchiveServer,
                                                              config: CdeConfig) -> None:
    publish(archive_root, DAY1)
    publish(archive_root, DAY2, first_id=401)
    assert download(config).count_days("written") == 1
    before = partition(config, DAY1).read_bytes()
    server.add_fault(Fault(kind, retry_after=0), f"*2024-06-11{pattern}")  # type: ignore[arg-type]
    report = download(config, DAY1, DAY2)
    assert not report.ok
    failed = [d for d in report.days if d.status == "failed"]
    assert [d.date for d in failed] == [DAY2]
    assert message in (failed[0].error or "") and "\n" not in (failed[0].error or "")
    assert not partition(config, DAY2).exists()
    assert partition(config, DAY1).read_bytes() == before
    assert not list(Path(config.data_root).rglob("*2024-06-11.zip"))
    assert no_leftovers(config)


def test_404_is_missing_with_marker_and_recheck(archive_root: Path, server: ArchiveServer,
                                                config: CdeConfig) -> None:
    server.add_fault(Fault("404"), "[?]prefix=*")  # an archive without a listing: files are asked for
    report = download(config)
    assert report.count_days("missing") == 1 and report.ok
    assert len(server.requests("*.CHECKSUM")) == 1
    again = download(config)  # the marker is fresh: no request
    assert again.count_days("missing") == 1 and len(server.requests("*.CHECKSUM")) == 1
    publish(archive_root, DAY1)
    later = download(config, recheck_missing=True)
    assert later.count_days("written") == 1


def test_rerun_skips_verified_partitions(archive_root: Path, server: ArchiveServer, config: CdeConfig) -> None:
    publish(archive_root, DAY1)
    download(config)
    n = len(server.requests())
    report = download(config)
    assert report.count_days("skipped") == 1 and len(server.requests()) == n


def test_monthly_preferred_daily_for_current_month_and_fallback(archive_root: Path, server: ArchiveServer,
                                                                config: CdeConfig) -> None:
    from cde_exchanges.fakes.archive_maker import make_archive

    make_archive(archive_root, BINANCE, "spot", "trades", ["BTCUSDT"], date(2024, 4, 1), date(2024, 6, 12),
                 layout="both", trades_per_day=50,
                 day_trades=lambda s, d: random_trades(d, 50, first_id=(d - date(2024, 1, 1)).days * 50))
    # drop May's monthly file so May falls back to daily files
    (archive_root / BINANCE.monthly_file("spot", "trades", "BTCUSDT", 2024, 5).rel_path).unlink()
    report = download(config, date(2024, 4, 1), date(2024, 6, 12))
    assert report.count_days("written") == 30 + 31 + 12, report.summary()
    zips = server.requests("*.zip")
    assert "data/spot/monthly/trades/BTCUSDT/BTCUSDT-trades-2024-04.zip" in zips
    assert not [z for z in zips if "daily" in z and "2024-04-" in z]
    assert len([z for z in zips if "daily" in z and "2024-05-" in z]) == 31
    assert len([z for z in zips if "daily" in z and "2024-06-" in z]) == 12
    assert not [z for z in zips if "monthly" in z and "2024-06" in z]
    assert report.issues() == []  # ids continue across every day and file boundary


def test_okx_zip_without_checksum_verified_by_crc(archive_root: Path, server: ArchiveServer,
                                                  config: CdeConfig) -> None:
    okx = OkxArchive()
    file = okx.daily_file("spot", "trades", "BTC-USDT", DAY1)
    write_archive_file(archive_root, file, random_trades(DAY1, 300), ArchiveVariant())
    # the next day's file holds the end of the UTC day (OKX files are cut on UTC+8): without it the day is incomplete
    write_archive_file(archive_root, okx.daily_file("spot", "trades", "BTC-USDT", DAY2),
                       random_trades(DAY2, 300, first_id=301), ArchiveVariant())
    server.add_fault(Fault("truncate", times=1), "*2024-06-10.zip")
    request = DownloadRequest(exchange="okx", market="spot", symbols=["BTC-USDT"], start=DAY1, end=DAY1)
    report = run_download(request, adapter=okx, config=config, today=TODAY)
    assert report.count_days("written") == 1
    assert [f.status for f in report.files if f.url.endswith("2024-06-10.zip")] == ["downloaded"]
