"""Synthetic archive generation: file layouts and resume."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from cde_exchanges.fakes.archive_maker import make_archive
from cde_exchanges.fakes.synthetic_trades import random_trades
from cde_exchanges.formats.binance import BinanceArchive

START, END = date(2024, 1, 30), date(2024, 3, 2)  # partial Jan, whole Feb, partial Mar


def day_trades(symbol: str, day: date):  # type: ignore[no-untyped-def]
    return random_trades(day, 20, first_id=1 + (day - START).days * 20)


def zips(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*.zip"))


def test_monthly_layout_uses_monthly_files_for_whole_months_only(tmp_path: Path) -> None:
    report = make_archive(tmp_path, BinanceArchive(), "spot", "trades", ["BTCUSDT"], START, END,
                          layout="monthly", day_trades=day_trades)
    names = zips(tmp_path)
    assert "BTCUSDT-trades-2024-02.zip" in names
    assert not [n for n in names if n.startswith("BTCUSDT-trades-2024-02-")]
    assert {"BTCUSDT-trades-2024-01-30.zip", "BTCUSDT-trades-2024-01-31.zip", "BTCUSDT-trades-2024-03-01.zip",
            "BTCUSDT-trades-2024-03-02.zip"} <= set(names)
    assert report.written == len(names) == 5 and len(list(tmp_path.rglob("*.CHECKSUM"))) == 5


def test_both_layout_writes_monthly_and_daily_files_with_the_same_trades(tmp_path: Path) -> None:
    make_archive(tmp_path, BinanceArchive(), "spot", "trades", ["BTCUSDT"], START, END, layout="both",
                 day_trades=day_trades)
    assert len(zips(tmp_path)) == 33 + 1


def test_rerun_keeps_complete_files_and_rewrites_one_missing_its_checksum(tmp_path: Path) -> None:
    make_archive(tmp_path, BinanceArchive(), "spot", "trades", ["BTCUSDT"], START, END, layout="monthly",
                 day_trades=day_trades)
    checksum = next(tmp_path.rglob("BTCUSDT-trades-2024-02.zip.CHECKSUM"))
    before = checksum.read_text()
    checksum.unlink()  # as if killed between the zip and its checksum
    report = make_archive(tmp_path, BinanceArchive(), "spot", "trades", ["BTCUSDT"], START, END,
                          layout="monthly", day_trades=day_trades)
    assert (report.written, report.kept) == (1, 4)
    assert checksum.read_text() == before
