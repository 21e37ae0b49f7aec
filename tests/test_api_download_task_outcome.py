"""A download task whose days failed does not read ``succeeded``: `cde download` exits 1 for the same
report, while the API's task ended ``succeeded`` with the failures buried in its result, so a client
polling the status was told all was well."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient

from cde_core.config import CdeConfig, DownloadConfig
from cde_exchanges.fakes.archive_server import ArchiveServer, Fault
from cde_exchanges.fakes.archive_writer import ArchiveVariant, write_archive_file
from cde_exchanges.fakes.synthetic_trades import random_trades
from cde_exchanges.formats.binance import BinanceArchive
from cde_server.api.app import create_app


def test_a_download_with_failed_days_fails_and_keeps_the_days_written(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    days = [date(2024, 6, 10), date(2024, 6, 11)]
    for day in days:
        write_archive_file(archive, BinanceArchive().daily_file("spot", "trades", "BTCUSDT", day),
                           random_trades(day, 50), ArchiveVariant())
    with ArchiveServer(archive) as server:
        server.add_fault(Fault("500"), "*BTCUSDT-trades-2024-06-11.zip")  # every attempt: the day fails
        config = CdeConfig(data_root=tmp_path / "lake",
                           download=DownloadConfig(binance_archive_url=server.url, retries=1, backoff_s=0.01,
                                                   timeout_s=2.0))
        with TestClient(create_app(config)) as client:
            task = client.post("/download", json={"exchange": "binance", "market": "spot", "symbols": ["BTCUSDT"],
                                                  "start": "2024-06-10", "end": "2024-06-11"}).json()
            while task["status"] in ("queued", "running"):
                time.sleep(0.05)
                task = client.get(f"/tasks/{task['id']}").json()
    assert task["status"] == "failed", task
    assert task["error"].startswith("1 of 2 days failed: "), task
    assert "500" in task["error"], task  # the cause, from the archive
    assert "1 written and kept; run the same download again to resume" in task["error"], task
    assert str(tmp_path) not in task["error"], task
    written = sorted(p.parent.name for p in (tmp_path / "lake").rglob("part-0.parquet"))
    assert written == ["date=2024-06-10"], written
