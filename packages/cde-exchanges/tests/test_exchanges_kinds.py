"""Archive kinds do not collide in the lake: trades and aggTrades of the same symbol-days live in their
own trees, each download skips only its own kind's partitions, and the inventory covers both."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cde_core.config import CdeConfig
from cde_core.lake import Lake
from cde_exchanges.download.models import DownloadReport, DownloadRequest
from cde_exchanges.download.service import run_download
from cde_exchanges.fakes.archive_server import ArchiveServer
from cde_exchanges.fakes.archive_writer import ArchiveVariant, conform, write_archive_file
from cde_exchanges.fakes.synthetic_trades import random_trades
from cde_exchanges.formats.binance import BinanceArchive
from cde_exchanges.lake.inventory import inventory, verify

TODAY = date(2024, 6, 20)
DAYS = [date(2024, 6, 10), date(2024, 6, 11)]
BINANCE = BinanceArchive()


def publish(root: Path, kind: str, seed: int) -> dict[date, pa.Table]:
    """Different trades per kind (an aggregate trade is not a trade), so a mix-up cannot pass."""
    expected = {}
    for i, day in enumerate(DAYS):
        trades = random_trades(day, 300 + 100 * seed, seed=seed, first_id=1 + i * 1000)
        file = BINANCE.daily_file("um", kind, "BTCUSDT", day)
        write_archive_file(root, file, trades, ArchiveVariant())
        expected[day] = conform(trades, file, ArchiveVariant())
    return expected


def download(config: CdeConfig, kind: str) -> DownloadReport:
    request = DownloadRequest(exchange="binance", market="um", kind=kind, symbols=["BTCUSDT"], start=DAYS[0],
                              end=DAYS[-1])
    return run_download(request, adapter=BINANCE, config=config, today=TODAY)


def read_back(config: CdeConfig, kind: str, day: date) -> pa.Table:
    folder = Lake(config.data_root).trade_kind_dir(kind, "binance", "um", "BTCUSDT", day)
    return pq.read_table(folder / "part-0.parquet").replace_schema_metadata(None)


def test_trades_then_aggtrades_of_the_same_days_are_both_written(archive_root: Path, server: ArchiveServer,
                                                                 config: CdeConfig) -> None:
    trades = publish(archive_root, "trades", seed=1)
    agg = publish(archive_root, "aggTrades", seed=2)
    assert download(config, "trades").count_days("written") == 2
    report = download(config, "aggTrades")
    assert report.count_days("written") == 2, report.summary()
    assert report.count_days("skipped") == 0
    for day in DAYS:
        assert read_back(config, "trades", day).equals(trades[day])
        assert read_back(config, "aggTrades", day).equals(agg[day])
    assert (Path(config.data_root) / "aggtrades" / "exchange=binance").is_dir()
    # a second run of each kind skips exactly its own partitions
    assert download(config, "trades").count_days("skipped") == 2
    assert download(config, "aggTrades").count_days("skipped") == 2
    rows = {(i.tree, i.symbol): i.rows for i in inventory(Lake(config.data_root))}
    assert rows == {("trades", "BTCUSDT"): sum(t.num_rows for t in trades.values()),
                    ("aggtrades", "BTCUSDT"): sum(t.num_rows for t in agg.values())}
    checks = verify(Lake(config.data_root))
    assert len(checks) == 4 and all(c.ok for c in checks)


def test_a_partition_of_another_kind_in_the_tree_is_fetched_again(archive_root: Path, server: ArchiveServer,
                                                                  config: CdeConfig) -> None:
    """aggTrades written into the trades tree (by cde before kinds had their own trees) are not trades."""
    trades = publish(archive_root, "trades", seed=1)
    publish(archive_root, "aggTrades", seed=2)
    download(config, "aggTrades")
    lake = Lake(config.data_root)
    for day in DAYS:
        wrong = lake.trade_kind_dir("trades", "binance", "um", "BTCUSDT", day)
        shutil.copytree(lake.trade_kind_dir("aggTrades", "binance", "um", "BTCUSDT", day), wrong)
    report = download(config, "trades")
    assert report.count_days("written") == 2, report.summary()
    for day in DAYS:
        assert read_back(config, "trades", day).equals(trades[day])
        prov = lake.read_provenance(lake.trades_dir("binance", "um", "BTCUSDT", day))
        assert prov is not None and prov.extra["kind"] == "trades"
