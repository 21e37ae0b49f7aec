"""Cancel and limits of a download (issue 19, item 10), on the real archive server and service: a
cancel during extraction stops it within a batch (not after every file is extracted), a cancel
stops a round of files between two files, and a range over download.max_span_days is refused before
anything runs, naming the limit."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from cde_core.config import CdeConfig
from cde_core.errors import CancelledError, DataError
from cde_core.progress import CancelToken
from cde_exchanges.download.models import DownloadRequest
from cde_exchanges.download.service import run_download
from cde_exchanges.fakes.archive_server import ArchiveServer, Fault
from cde_exchanges.fakes.archive_writer import ArchiveVariant, write_archive_file
from cde_exchanges.fakes.synthetic_trades import random_trades
from cde_exchanges.formats.binance import BinanceArchive

DAY = date(2024, 6, 10)


def request(days: int = 1, symbols: tuple[str, ...] = ("BTCUSDT",)) -> DownloadRequest:
    return DownloadRequest(exchange="binance", market="spot", symbols=list(symbols), start=DAY,
                           end=DAY + timedelta(days=days - 1))


@contextmanager
def cancelled_when(condition: Callable[[], bool]) -> Iterator[CancelToken]:
    """A token a watcher thread cancels as soon as ``condition()`` holds (polled every 5 ms)."""
    cancel, done = CancelToken(), threading.Event()

    def watch() -> None:
        while not done.wait(0.005):
            if condition():
                cancel.cancel()
                return

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        yield cancel
    finally:
        done.set()
        watcher.join()


def test_cancel_during_extraction_stops_it_and_leaves_no_partition(archive_root: Path, server: ArchiveServer,
                                                                   config: CdeConfig) -> None:
    for offset in range(3):  # big days: extracting them takes many record batches
        day = DAY + timedelta(days=offset)
        write_archive_file(archive_root, BinanceArchive().daily_file("spot", "trades", "BTCUSDT", day),
                           random_trades(day, 1_500_000), ArchiveVariant())
    trades = config.data_root / "trades"
    # the first (temporary) partition file appears: extraction is under way
    with cancelled_when(lambda: trades.is_dir() and any(p.is_file() for p in trades.rglob("*"))) as cancel, \
            pytest.raises(CancelledError):
        run_download(request(days=3), adapter=BinanceArchive(), config=config, cancel=cancel)
    assert list(config.data_root.glob("trades/**/part-0.parquet")) == []  # nothing committed, nothing half
    assert list((config.data_root / ".cache" / "cancel").glob("*")) == []  # the flag is cleaned up


def test_cancel_stops_a_round_of_files_between_two_files(archive_root: Path, server: ArchiveServer,
                                                         config: CdeConfig) -> None:
    for offset in range(40):
        day = DAY + timedelta(days=offset)
        write_archive_file(archive_root, BinanceArchive().daily_file("spot", "trades", "BTCUSDT", day),
                           random_trades(day, 10), ArchiveVariant())
    server.add_fault(Fault("slow", delay_s=0.2), "*-2024-0[67]-*.zip")  # daily files trickle in
    with cancelled_when(lambda: len(server.requests("*-2024-0[67]-*.zip")) >= 3) as cancel, \
            pytest.raises(CancelledError):
        run_download(request(days=40), adapter=BinanceArchive(), config=config, cancel=cancel)
    daily = server.requests("*-2024-0[67]-*.zip")
    # the files in flight when the cancel came finish (one per fetch thread), no new one starts
    assert len(daily) <= 3 + config.download.concurrency, daily


def test_a_range_over_the_span_limit_is_refused_naming_the_limit(config: CdeConfig) -> None:
    too_long = DownloadRequest(exchange="binance", market="spot", symbols=["BTCUSDT"], start=date(1990, 1, 1),
                               end=date(2023, 12, 31))
    with pytest.raises(DataError, match=r"over the limit of 3700 days \(download.max_span_days\)"):
        run_download(too_long, adapter=BinanceArchive(), config=config)
    assert not (config.data_root / ".cache").exists()  # refused before anything ran


def test_post_download_refuses_the_span_with_4xx(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from cde_server.api.app import create_app

    with TestClient(create_app(CdeConfig(data_root=tmp_path / "lake"))) as client:
        answer = client.post("/download", json={"exchange": "binance", "market": "spot", "symbols": ["BTCUSDT"],
                                                "start": "1990-01-01", "end": "2023-12-31"})
    assert answer.status_code == 422 and "download.max_span_days" in answer.json()["detail"], answer.text


@pytest.mark.parametrize("listing", [True, False], ids=["listed", "no-listing"])
def test_days_before_the_first_monthly_archive_are_not_probed_one_by_one(
        archive_root: Path, server: ArchiveServer, config: CdeConfig, listing: bool) -> None:
    """A range starting years before the symbol's listing costs one request per month there, not one
    per day (the report in the issue: ~12,800 "missing" markers); with the archive's listing, none."""
    archive = BinanceArchive()
    for month in (5, 6):
        first = date(2024, month, 1)
        days = [first + timedelta(days=i) for i in range(31) if (first + timedelta(days=i)).month == month]
        table = pa.concat_tables([random_trades(d, 5, first_id=1 + 5 * k) for k, d in enumerate(days)])
        write_archive_file(archive_root, archive.monthly_file("spot", "trades", "BTCUSDT", 2024, month), table,
                           ArchiveVariant())
    if not listing:
        server.add_fault(Fault("404"), "[?]prefix=*")
    old = DownloadRequest(exchange="binance", market="spot", symbols=["BTCUSDT"], start=date(2022, 1, 1),
                          end=date(2024, 6, 30))
    report = run_download(old, adapter=archive, config=config, today=date(2024, 8, 1))
    assert server.requests("*/daily/*") == []  # no day before May 2024 was probed
    assert report.count_days("written") == 61 and report.count_days("missing") == 365 + 365 + 121
    markers = list((config.data_root / ".cache" / "missing").rglob("*.json"))
    if listing:  # the listing said which months exist: only those were asked for, nothing marked
        assert markers == [] and len(server.requests("data/*/monthly/*")) == 2 * 2  # zip + .CHECKSUM, May, June
        assert server.requests("[?]*") == ["?prefix=data/spot/monthly/trades/BTCUSDT/"]  # one page
    else:
        assert len(markers) == 28, len(markers)  # one per month Jan 2022 .. Apr 2024


def test_download_progress_never_goes_back_and_reaches_one_exactly_once(archive_root: Path, server: ArchiveServer,
                                                                        config: CdeConfig) -> None:
    """The last extraction job reported 1.0, then the run reported "done" at 1.0 again."""
    for symbol in ("BTCUSDT", "ETHUSDT"):
        for offset in range(3):
            day = DAY + timedelta(days=offset)
            write_archive_file(archive_root, BinanceArchive().daily_file("spot", "trades", symbol, day),
                               random_trades(day, 50), ArchiveVariant())
    calls: list[float] = []
    run_download(request(days=3, symbols=("BTCUSDT", "ETHUSDT")), adapter=BinanceArchive(), config=config,
                 progress=lambda fraction, message: calls.append(fraction))
    assert calls == sorted(calls), calls
    assert calls.count(1.0) == 1 and calls[-1] == 1.0, calls
