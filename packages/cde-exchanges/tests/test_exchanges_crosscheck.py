"""``cde lake crosscheck``: a generated archive's trades and klines agree after download; a trades zip
that lost one hour of trades (re-zipped and re-checksummed, so the download verifies it, as in
binance-public-data issue #39) is named by exactly that day and hour."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cde_core.config import CdeConfig
from cde_core.errors import NotFoundError
from cde_core.lake import Lake
from cde_exchanges.cli import register
from cde_exchanges.download.models import DownloadRequest
from cde_exchanges.download.service import run_download
from cde_exchanges.fakes.archive_maker import make_archive
from cde_exchanges.fakes.archive_server import ArchiveServer
from cde_exchanges.fakes.archive_writer import checksum_line
from cde_exchanges.fakes.synthetic_trades import random_trades
from cde_exchanges.formats.binance import BinanceArchive
from cde_exchanges.lake.crosscheck import CrosscheckRequest, crosscheck

START, END = date(2024, 3, 1), date(2024, 3, 3)
BAD_DAY, BAD_HOUR = date(2024, 3, 2), 5
SYMBOLS = ["BTCUSDT", "ETHUSDT"]
BINANCE = BinanceArchive()


def day_trades(symbol: str, day: date):  # type: ignore[no-untyped-def]
    return random_trades(day, 4_000, seed=len(symbol), first_id=1 + (day - START).days * 4_000)


def download(config: CdeConfig, kind: str, **extra: object) -> None:
    request = DownloadRequest(exchange="binance", market="um", kind=kind, symbols=SYMBOLS, start=START, end=END,
                              **extra)
    report = run_download(request, adapter=BINANCE, config=config, today=date(2024, 6, 1))
    assert report.ok and report.count_days("missing") == 0, report.summary()


def drop_hour(archive_root: Path, symbol: str, day: date, hour: int) -> int:
    """Remove the trades of one hour from the daily trades zip; re-zip and publish a matching checksum."""
    file = BINANCE.daily_file("um", "trades", symbol, day)
    path = archive_root / file.rel_path
    with zipfile.ZipFile(path) as archive:
        member = archive.namelist()[0]
        lines = archive.read(member).decode().splitlines(keepends=True)
    start_ms = int(datetime(day.year, day.month, day.day, hour, tzinfo=UTC).timestamp() * 1000)

    def in_hour(line: str) -> bool:
        field = line.split(",")[4]
        return field.isdigit() and start_ms <= int(field) < start_ms + 3_600_000

    kept = [line for line in lines if not in_hour(line)]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, "".join(kept))
    data = path.read_bytes()
    (archive_root / file.checksum_rel_path).write_text(checksum_line(data, file.name))  # type: ignore[operator]
    return len(lines) - len(kept)


@pytest.mark.parametrize("data_root", ["local", "s3"], indirect=True)
def test_trades_and_klines_agree_until_an_hour_goes_missing(archive_root: Path, server: ArchiveServer,
                                                            config: CdeConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    for kind in ("trades", "klines"):
        make_archive(archive_root, BINANCE, "um", kind, SYMBOLS, START, END, day_trades=day_trades, interval="1h")
    download(config, "trades")
    download(config, "klines", interval="1h")
    lake = Lake(config.data_root)
    request = CrosscheckRequest(exchange="binance", market="um", interval="1h")
    clean = crosscheck(lake, request)
    assert len(clean.days) == 6 and clean.ok, [d for d in clean.days if d.status != "ok"]
    assert all(d.intervals == 24 for d in clean.days)

    dropped = drop_hour(archive_root, "ETHUSDT", BAD_DAY, BAD_HOUR)
    assert dropped > 0
    # the damaged file verifies (its checksum matches), but it never replaces the whole day in the lake
    request_again = DownloadRequest(exchange="binance", market="um", kind="trades", symbols=SYMBOLS, start=START,
                                    end=END, force=True)
    refused = run_download(request_again, adapter=BINANCE, config=config, today=date(2024, 6, 1))
    assert [(d.symbol, d.date, d.status) for d in refused.days if d.status != "written"] == [
        ("ETHUSDT", BAD_DAY, "failed")]
    assert crosscheck(lake, request).ok
    # a lake that got the damaged day (here: the partition deleted, as the refusal says, and fetched again)
    part = lake.trades_dir("binance", "um", "ETHUSDT", BAD_DAY) / "part-0.parquet"
    part.unlink()
    download(config, "trades")
    report = crosscheck(lake, request)
    bad = [d for d in report.days if d.status != "ok"]
    assert [(d.symbol, d.date) for d in bad] == [("ETHUSDT", BAD_DAY)]
    assert [m.open_time for m in bad[0].mismatches] == [datetime(2024, 3, 2, BAD_HOUR, tzinfo=UTC)]
    ours, theirs = bad[0].mismatches[0].differences["count"]
    assert theirs - ours == dropped

    monkeypatch.setattr("cde_core.config.get_config", lambda: config)
    app = typer.Typer()
    register(app)
    args = ["lake", "crosscheck", "--exchange", "binance", "--market", "um", "--interval", "1h"]
    shown = CliRunner().invoke(app, args)
    assert shown.exit_code == 1
    assert shown.output.splitlines()[0].startswith("ETHUSDT 2024-03-02: 1 of 24 intervals differ: 05:00 (first: count")
    assert "6 symbol-days checked, 5 agree" in shown.output
    shown = CliRunner().invoke(app, [*args, "--symbols", "BTCUSDT", "--json"])
    assert shown.exit_code == 0 and len(json.loads(shown.output)["days"]) == 3
    with pytest.raises(NotFoundError, match="no kline interval '1m'") as other:  # only 1h klines held
        crosscheck(lake, CrosscheckRequest(exchange="binance", market="um", interval="1m"))
    assert "1h" in (other.value.hint or "")


def test_an_empty_lake_is_an_error_not_a_pass(config: CdeConfig) -> None:
    with pytest.raises(NotFoundError, match="nothing to cross-check"):
        crosscheck(Lake(config.data_root), CrosscheckRequest(exchange="binance", market="um", interval="1h"))
