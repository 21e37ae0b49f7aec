"""Killing a download mid-way (SIGKILL) and re-running gives the same lake as one clean run; the lake
reads as one hive-partitioned dataset in pyarrow, DuckDB and Polars."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cde_core.config import CdeConfig
from cde_core.lake import Lake
from cde_exchanges.download.models import DownloadRequest
from cde_exchanges.download.service import run_download
from cde_exchanges.fakes.archive_maker import make_archive
from cde_exchanges.fakes.archive_server import ArchiveServer, Fault
from cde_exchanges.fakes.synthetic_trades import random_trades
from cde_exchanges.formats.binance import BinanceArchive

START, END = date(2024, 6, 10), date(2024, 6, 13)
SYMBOLS = ["BTCUSDT", "ETHUSDT"]
SCRIPT = """
import json, sys
from datetime import date
from cde_core.config import CdeConfig, DownloadConfig, ExecutorConfig
from cde_exchanges.formats.binance import BinanceArchive
from cde_exchanges.download.models import DownloadRequest
from cde_exchanges.download.service import run_download
root, url = sys.argv[1], sys.argv[2]
config = CdeConfig(data_root=root, download=DownloadConfig(binance_archive_url=url, concurrency=2, timeout_s=20,
                   retries=2, backoff_s=0.01), executor=ExecutorConfig(max_workers=1))
request = DownloadRequest(exchange="binance", market="spot", symbols=["BTCUSDT", "ETHUSDT"], start=date(2024, 6, 10),
                          end=date(2024, 6, 13))
report = run_download(request, adapter=BinanceArchive(), config=config, today=date(2024, 6, 20))
print(json.dumps(report.summary()["days"]))
"""


def lake_snapshot(root: Path) -> dict[str, tuple[object, dict]]:
    lake = Lake(root)
    snap = {}
    for path in sorted((root / "trades").rglob("part-0.parquet")):
        prov = lake.read_provenance(path)
        assert prov is not None
        snap[str(path.relative_to(root))] = (pq.read_table(path).replace_schema_metadata(None),
                                             prov.model_dump())
    return snap


def run_script(root: Path, url: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(root), url], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture
def archive(archive_root: Path) -> Path:
    make_archive(archive_root, BinanceArchive(), "spot", "trades", SYMBOLS, START, END,
                 day_trades=lambda s, d: random_trades(d, 30_000, seed=len(s),
                                                       first_id=1 + (d - START).days * 30_000))
    return archive_root


def test_sigkill_then_rerun_gives_the_same_lake(archive: Path, server: ArchiveServer, tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    done = run_script(reference, server.url)
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["written"] == 8

    killed_root = tmp_path / "killed"
    server.add_fault(Fault("slow", delay_s=0.05), "*2024-06-1[123].zip")
    proc = run_script(killed_root, server.url)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until it is mid-download: a temp file exists
        if list(killed_root.rglob(".*.tmp-*")):
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert len(lake_snapshot(killed_root)) < 8  # it really was interrupted

    server.clear_faults()
    rerun = run_script(killed_root, server.url)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert not [p for p in killed_root.rglob("*") if ".tmp-" in p.name]
    got, want = lake_snapshot(killed_root), lake_snapshot(reference)
    assert got.keys() == want.keys()
    for key in want:
        assert got[key][0].equals(want[key][0])
        assert got[key][1] == want[key][1]


def test_lake_reads_as_one_dataset(archive_root: Path, server: ArchiveServer, config: CdeConfig) -> None:
    make_archive(archive_root, BinanceArchive(), "spot", "trades", SYMBOLS, START, START + (END - START) / 2,
                 day_trades=lambda s, d: random_trades(d, 200, first_id=1 + (d - START).days * 200))
    request = DownloadRequest(exchange="binance", market="spot", symbols=SYMBOLS, start=START, end=date(2024, 6, 11))
    report = run_download(request, adapter=BinanceArchive(), config=config, today=date(2024, 6, 20))
    assert report.count_days("written") == 4
    root = Path(config.data_root) / "trades"
    table = Lake(config.data_root).dataset("trades").to_table()
    assert table.num_rows == 800
    duckdb = pytest.importorskip("duckdb")
    rows = duckdb.sql(f"select symbol, count(*), min(trade_id) from read_parquet('{root}/**/*.parquet', "
                      "hive_partitioning=true) group by symbol order by symbol").fetchall()
    assert rows == [("BTCUSDT", 400, 1), ("ETHUSDT", 400, 1)]
    # every value, not just counts: the lake's delta / byte-stream-split pages must decode identically
    columns = ["symbol", "trade_id", "ts", "price", "qty", "quote_qty", "is_buyer_maker"]
    want = table.select(columns).sort_by([("symbol", "ascending"), ("trade_id", "ascending")])
    want_rows = list(zip(*(want.column(c).to_pylist() for c in columns), strict=True))
    got_duck = duckdb.sql(f"select {', '.join(columns)} from read_parquet('{root}/**/*.parquet', "
                          "hive_partitioning=true) order by symbol, trade_id").fetchall()
    assert [r[:2] + r[3:] for r in got_duck] == [r[:2] + r[3:] for r in want_rows]
    assert [r[2].timestamp() for r in got_duck] == [r[2].timestamp() for r in want_rows]
    polars = pytest.importorskip("polars")
    frame = polars.scan_parquet(f"{root}/**/*.parquet", hive_partitioning=True).collect()
    assert frame.height == 800
    assert set(frame["exchange"].unique().to_list()) == {"binance"}
    assert frame["ts"].dtype == polars.Datetime("us", "UTC")
    frame = frame.sort(["symbol", "trade_id"])
    for name in columns:
        assert frame[name].to_list() == want.column(name).to_pylist(), name
