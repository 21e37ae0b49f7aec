"""OKX monthly trades files and aggtrades: a monthly file splits into its days, the day that spills into
the next month's first daily file (files reportedly cut on UTC+8) is completed from it, and a missing
monthly file falls back to daily files without fetching any file twice."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cde_core.config import CdeConfig
from cde_core.lake import Lake
from cde_exchanges.archive_server import ArchiveServer
from cde_exchanges.archive_writer import ArchiveVariant, conform, write_archive_file
from cde_exchanges.download_models import DownloadReport, DownloadRequest
from cde_exchanges.download_service import run_download
from cde_exchanges.okx import OkxArchive
from cde_exchanges.synthetic_trades import random_trades

OKX = OkxArchive()
TODAY = date(2024, 4, 10)
FEB = [date(2024, 2, 1) + timedelta(days=i) for i in range(29)]
SPILL = 40  # trades of Feb 29 that sit in the file of Mar 1


def month_of_trades() -> pa.Table:
    tables, first = [], 1
    for day in [*FEB, date(2024, 3, 1)]:
        tables.append(random_trades(day, 120, seed=day.day, first_id=first))
        first += 120
    return pa.concat_tables(tables)


def download(config: CdeConfig, kind: str, start: date, end: date) -> DownloadReport:
    request = DownloadRequest(exchange="okx", market="spot", kind=kind, symbols=["BTC-USDT"], start=start, end=end)
    return run_download(request, adapter=OKX, config=config, today=TODAY)


def read_day(config: CdeConfig, kind: str, day: date) -> pa.Table:
    folder = Lake(config.data_root).trade_kind_dir(kind, "okx", "spot", "BTC-USDT", day)
    return pq.read_table(folder / "part-0.parquet").replace_schema_metadata(None)


def test_monthly_file_with_the_last_day_spilling_into_the_next_daily_file(
        archive_root: Path, server: ArchiveServer, config: CdeConfig) -> None:
    trades = month_of_trades()
    monthly = OKX.monthly_file("spot", "trades", "BTC-USDT", 2024, 2)
    assert monthly is not None
    assert monthly.rel_path == "cdn/okex/traderecords/trades/monthly/202402/BTC-USDT-trades-2024-02.zip"
    in_month = 29 * 120 - SPILL
    write_archive_file(archive_root, monthly, trades.slice(0, in_month))
    write_archive_file(archive_root, OKX.daily_file("spot", "trades", "BTC-USDT", date(2024, 3, 1)),
                       trades.slice(in_month))
    report = download(config, "trades", FEB[0], FEB[-1])
    assert report.count_days("written") == 29, report.summary()
    assert sorted(server.requests("*.zip")) == sorted({*server.requests("*.zip")})  # nothing fetched twice
    assert len(server.requests("*.zip")) == 2
    expected = conform(trades, monthly, ArchiveVariant())
    for i, day in enumerate(FEB):
        assert read_day(config, "trades", day).equals(expected.slice(i * 120, 120)), day


def test_missing_monthly_file_falls_back_to_daily_files(archive_root: Path, server: ArchiveServer,
                                                        config: CdeConfig) -> None:
    trades = month_of_trades()
    for i, day in enumerate([*FEB[-2:], date(2024, 3, 1)]):
        write_archive_file(archive_root, OKX.daily_file("spot", "trades", "BTC-USDT", day),
                           trades.slice((27 + i) * 120, 120))
    report = download(config, "trades", FEB[-2], FEB[-1])
    assert report.count_days("written") == 2, report.summary()
    fetched = server.requests("*.zip")
    assert len(fetched) == len(set(fetched)) == 4  # the monthly file (404) and three daily files, each once
    assert read_day(config, "trades", FEB[-1]).num_rows == 120


def test_aggtrades_are_daily_files_in_their_own_folder_and_tree(archive_root: Path, server: ArchiveServer,
                                                                config: CdeConfig) -> None:
    day = date(2024, 2, 10)
    file = OKX.daily_file("spot", "aggTrades", "BTC-USDT", day)
    assert file.rel_path == "cdn/okex/traderecords/aggtrades/daily/20240210/BTC-USDT-aggtrades-2024-02-10.zip"
    assert OKX.monthly_file("spot", "aggTrades", "BTC-USDT", 2024, 2) is None
    trades = random_trades(day, 300)
    write_archive_file(archive_root, file, trades)
    after = day + timedelta(days=1)  # holds the day's UTC+8 tail; without it the day is incomplete
    write_archive_file(archive_root, OKX.daily_file("spot", "aggTrades", "BTC-USDT", after),
                       random_trades(after, 100, first_id=301))
    report = download(config, "aggTrades", day, day)
    assert report.count_days("written") == 1, report.summary()
    assert read_day(config, "aggTrades", day).equals(conform(trades, file, ArchiveVariant()))
    assert not (Path(config.data_root) / "trades").exists()
