"""The archive cache: a cached zip is reused only while it is still the published file, ``--force``
fetches again, an unusable cache file is named, and zips of written days do not outlive a SIGKILL."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cde_core.config import CdeConfig
from cde_core.lake import PART_FILE, Lake
from cde_exchanges.download.models import DownloadReport, DownloadRequest
from cde_exchanges.download.service import run_download
from cde_exchanges.fakes.archive_server import ArchiveServer
from cde_exchanges.fakes.archive_writer import ArchiveVariant, write_archive_file
from cde_exchanges.fakes.synthetic_trades import random_trades
from cde_exchanges.formats.binance import BinanceArchive
from cde_exchanges.lake.inventory import verify

TODAY = date(2024, 6, 20)
DAY1, DAY2, DAY3 = date(2024, 6, 10), date(2024, 6, 11), date(2024, 6, 12)
BINANCE = BinanceArchive()
FILE1 = BINANCE.daily_file("spot", "trades", "BTCUSDT", DAY1)


def publish(root: Path, day: date, n: int, first_id: int, symbol: str = "BTCUSDT") -> str:
    """Write (or republish) a day's zip + CHECKSUM; returns the zip's sha256."""
    file = BINANCE.daily_file("spot", "trades", symbol, day)
    write_archive_file(root, file, random_trades(day, n, first_id=first_id, seed=n), ArchiveVariant())
    return hashlib.sha256((root / file.rel_path).read_bytes()).hexdigest()


def download(config: CdeConfig, **extra: object) -> DownloadReport:
    request = DownloadRequest(exchange="binance", market="spot", symbols=["BTCUSDT"], start=DAY1, end=DAY1,
                              **extra)
    return run_download(request, adapter=BINANCE, config=config, today=TODAY)


def cached_zip(config: CdeConfig) -> Path:
    return Path(config.data_root) / ".cache" / "archives" / "binance" / FILE1.rel_path


def day1(config: CdeConfig) -> tuple[int, int | None, str | None]:
    """(rows, first trade id, provenance checksum) of the day's partition."""
    folder = Lake(config.data_root).trades_dir("binance", "spot", "BTCUSDT", DAY1)
    prov = Lake.read_provenance(folder)
    assert prov is not None
    return pq.read_metadata(folder / PART_FILE).num_rows, prov.first_trade_id, prov.checksum


def test_republished_file_is_fetched_again_with_force(archive_root: Path, server: ArchiveServer,
                                                      config: CdeConfig) -> None:
    old_sha = publish(archive_root, DAY1, 400, 1)
    assert download(config, keep_archives=True).count_days("written") == 1
    assert cached_zip(config).exists()
    assert day1(config) == (400, 1, old_sha)

    new_sha = publish(archive_root, DAY1, 500, 1001)  # the exchange republishes the day
    assert new_sha != old_sha
    plain = download(config)  # a committed day is not re-checked without --force (documented)
    assert plain.count_days("skipped") == 1
    assert day1(config) == (400, 1, old_sha)

    forced = download(config, force=True)
    assert forced.count_days("written") == 1
    assert [f.status for f in forced.files if f.url.endswith(".zip")] == ["downloaded"]
    assert day1(config) == (500, 1001, new_sha)
    assert not cached_zip(config).exists()  # written, so not kept
    assert all(check.ok for check in verify(Lake(config.data_root)))


def test_cached_zip_is_reused_only_while_it_is_the_published_file(archive_root: Path, server: ArchiveServer,
                                                                  config: CdeConfig) -> None:
    old_sha = publish(archive_root, DAY1, 400, 1)
    partition = Lake(config.data_root).trades_dir("binance", "spot", "BTCUSDT", DAY1) / PART_FILE
    download(config, keep_archives=True)

    partition.unlink()  # the day must be written again, from the cache: unchanged, so no zip request
    zip_requests = len(server.requests("*.zip"))
    again = download(config, keep_archives=True)
    assert [f.status for f in again.files if f.url.endswith(".zip")] == ["cached"]
    assert len(server.requests("*.zip")) == zip_requests
    assert day1(config) == (400, 1, old_sha)

    partition.unlink()
    new_sha = publish(archive_root, DAY1, 500, 1001)  # republished: the cached copy is stale
    fresh = download(config, keep_archives=True)
    assert [f.status for f in fresh.files if f.url.endswith(".zip")] == ["downloaded"]
    assert day1(config) == (500, 1001, new_sha)

    partition.unlink()
    cached_zip(config).write_bytes(b"PK damaged on disk")  # no longer what was verified
    repaired = download(config)
    assert [f.status for f in repaired.files if f.url.endswith(".zip")] == ["downloaded"]
    assert day1(config) == (500, 1001, new_sha)


def test_unusable_cache_file_is_named_in_the_error(archive_root: Path, server: ArchiveServer,
                                                   config: CdeConfig) -> None:
    publish(archive_root, DAY1, 400, 1)
    download(config, keep_archives=True)
    Lake(config.data_root).trades_dir("binance", "spot", "BTCUSDT", DAY1).joinpath(PART_FILE).unlink()
    path = cached_zip(config)
    path.unlink()
    path.mkdir()  # something that can be neither read nor replaced
    (path / "x").write_text("x")
    report = download(config)
    assert not report.ok
    (error,) = report.summary()["errors"]
    assert str(path) in error and f"remove {path} by hand" in error
    assert not Lake(config.data_root).trades_dir("binance", "spot", "BTCUSDT", DAY1).joinpath(PART_FILE).exists()


KILLED_RUN = """
import os, signal, sys
from datetime import date
from cde_core.config import CdeConfig, DownloadConfig, ExecutorConfig
from cde_exchanges.formats.binance import BinanceArchive
from cde_exchanges.download.models import DownloadRequest
from cde_exchanges.download.service import run_download
root, url, kill_after = sys.argv[1], sys.argv[2], sys.argv[3]
config = CdeConfig(data_root=root, download=DownloadConfig(binance_archive_url=url, retries=1, backoff_s=0.01),
                   executor=ExecutorConfig(max_workers=1))

def progress(fraction, message):
    if message == kill_after:  # this symbol's days are written; the other's are not
        os.kill(os.getpid(), signal.SIGKILL)

request = DownloadRequest(exchange="binance", market="spot", symbols=["BTCUSDT", "ETHUSDT"],
                          start=date(2024, 6, 10), end=date(2024, 6, 12))
report = run_download(request, adapter=BinanceArchive(), config=config, today=date(2024, 6, 20), progress=progress)
print(report.model_dump_json())
"""


def test_zips_of_days_written_before_a_sigkill_are_removed_by_the_resume(archive_root: Path, server: ArchiveServer,
                                                                         tmp_path: Path) -> None:
    for symbol in ("BTCUSDT", "ETHUSDT"):
        for i, day in enumerate((DAY1, DAY2, DAY3)):
            publish(archive_root, day, 300, 1 + 300 * i, symbol)
    root = tmp_path / "lake"
    archives = root / ".cache" / "archives"

    def run(kill_after: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", KILLED_RUN, str(root), server.url, kill_after],
                              capture_output=True, text=True, timeout=600, check=False)

    killed = run("binance/spot/BTCUSDT")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    lake = Lake(root)
    written = sorted(p.parent.parent.name for p in (root / "trades").rglob(PART_FILE))
    assert written == ["symbol=BTCUSDT"] * 3  # it died after BTCUSDT's days were written
    assert len(list(archives.rglob("*.zip"))) == 6  # with every zip still cached

    resumed = run("never")
    assert resumed.returncode == 0, resumed.stderr
    days = json.loads(resumed.stdout)["days"]
    assert sorted((d["symbol"], d["status"]) for d in days) == (
        [("BTCUSDT", "skipped")] * 3 + [("ETHUSDT", "written")] * 3)
    assert not [p for p in archives.rglob("*") if p.is_file()], "zips of written days outlived the resume"
    assert len(list((root / "trades").rglob(PART_FILE))) == 6
    assert all(check.ok for check in verify(lake))


def publish_garbage(root: Path, day: date) -> str:
    """A day whose zip is published correctly (checksum matches) but holds no readable trades."""
    file = BINANCE.daily_file("spot", "trades", "BTCUSDT", day)
    path = root / file.rel_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(file.name.replace(".zip", ".csv"), "1,not-a-price,0.5,20.0,1717977600000,True,True\n")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (root / f"{file.rel_path}.CHECKSUM").write_text(f"{digest}  {file.name}\n")
    return file.name


@pytest.mark.parametrize("keep", [True, False], ids=["keep-archives", "default"])
def test_failed_days_keep_their_zips_and_written_days_do_not(keep: bool, archive_root: Path, server: ArchiveServer,
                                                             config: CdeConfig) -> None:
    publish(archive_root, DAY1, 300, 1)
    bad = publish_garbage(archive_root, DAY2)
    report = run_download(DownloadRequest(exchange="binance", market="spot", symbols=["BTCUSDT"], start=DAY1,
                                          end=DAY2, keep_archives=keep), adapter=BINANCE, config=config,
                          today=TODAY)
    assert {d.date: d.status for d in report.days} == {DAY1: "written", DAY2: "failed"}
    kept = {p.name for p in (Path(config.data_root) / ".cache" / "archives").rglob("*.zip")}
    assert kept == ({FILE1.name, bad} if keep else {bad})  # the failed day's zip serves the next run


@pytest.mark.parametrize(("exchange", "market", "kind", "interval", "symbol", "end"), [
    ("binance", "spot", "trades", None, "BTCUSDT", date(2024, 6, 2)),
    ("binance", "um", "aggTrades", None, "BTCUSDT", date(2024, 6, 2)),
    ("binance", "um", "klines", "1h", "ETHUSDT", date(2024, 6, 2)),
    ("binance", "um", "fundingRate", None, "BTCUSDT", date(2024, 5, 31)),
    ("okx", "swap", "trades", None, "BTC-USDT-SWAP", date(2024, 6, 2)),
], ids=["binance-trades", "binance-aggtrades", "binance-klines", "binance-funding", "okx-trades"])
def test_cache_rules_hold_for_every_kind(exchange: str, market: str, kind: str, interval: str | None, symbol: str,
                                         end: date, archive_root: Path, server: ArchiveServer,
                                         config: CdeConfig) -> None:
    """Monthly and daily files of every kind and exchange: kept zips of written days go on the next
    plain run, and ``--force`` after a republication writes from the new files."""
    from cde_core.plugins import get_plugins
    from cde_exchanges.fakes.archive_maker import make_archive
    from cde_exchanges.fakes.synthetic_funding import random_funding

    adapter = get_plugins().exchanges.get(exchange)
    start = date(2024, 5, 1)  # May as one monthly file, then daily files (OKX: plus the spill day)

    def publish_all(n: int) -> set[str]:
        shutil.rmtree(archive_root)
        archive_root.mkdir()
        if kind == "fundingRate":  # the maker's funding rates do not vary; write the month's file by hand
            write_archive_file(archive_root, adapter.monthly_file(market, kind, symbol, 2024, 5),
                               random_funding(2024, 5, seed=n), ArchiveVariant())
        else:
            make_archive(archive_root, adapter, market, kind, [symbol], start, end + timedelta(days=1),
                         layout="monthly", interval=interval,
                         day_trades=lambda s, d: random_trades(d, n, seed=n, first_id=1 + (d - start).days * n))
        return {hashlib.sha256(p.read_bytes()).hexdigest() for p in archive_root.rglob("*.zip")}

    def download(**extra: object) -> DownloadReport:
        request = DownloadRequest(exchange=exchange, market=market, kind=kind, interval=interval, symbols=[symbol],
                                  start=start, end=end, **extra)
        report = run_download(request, adapter=adapter, config=config, today=TODAY)
        assert report.ok, report.summary()
        return report

    def checksums() -> set[str | None]:
        lake = Lake(config.data_root)
        files = list(Path(config.data_root).glob("[!.]*/**/part-0.parquet"))
        assert files
        return {prov.checksum for prov in (lake.read_provenance(f) for f in files) if prov is not None}

    archives = Path(config.data_root) / ".cache" / "archives"
    # the republication holds more trades; for 1h klines enough that every hour has one both times, so
    # no day has fewer candles than before (a --force never replaces a day with fewer rows)
    first, second = (400, 600) if kind == "klines" else (40, 60)
    old = publish_all(first)
    written = download(keep_archives=True).count_days("written")
    assert written == (1 if kind == "fundingRate" else 33)
    assert list(archives.rglob("*.zip"))
    assert checksums() <= old

    assert download().count_days("skipped") == written  # a plain run over written days
    assert not [p for p in archives.rglob("*") if p.is_file()], "kept zips of written days were not removed"

    download(keep_archives=True, force=True)
    new = publish_all(second)  # the exchange republishes every file
    assert not new & old
    forced = download(force=True)
    assert forced.count_days("written") == written
    assert forced.count_files("cached") == 0
    assert checksums() <= new
    assert all(check.ok for check in verify(Lake(config.data_root)))
