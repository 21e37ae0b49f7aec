"""Klines and funding rows that cannot be what their file says they are, through the real ``cde download``
command and the local archive server: each fails its day (month) naming the archive file and the line,
nothing of it is written, the file's neighbours are written exactly, and ``cde lake verify`` passes.

Every column may pass its own value rule while the row as a whole is impossible: a candle whose low is
above its open, a taker-buy volume above the volume, a ``count`` below zero, a candle that starts off
its interval's grid or lasts longer than its interval (a file of hour candles published under the
minute name: hours lie on the minute grid, so only ``close_time`` gives it away), two rows for one
interval or one settlement, a funding interval of 0 or -8 hours. Before, each was stored and exit 0.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from cde_core.config import CdeConfig
from cde_core.lake import Lake
from cde_exchanges.fakes.archive_server import ArchiveServer
from cde_exchanges.fakes.archive_writer import ArchiveVariant, checksum_line, conform, csv_bytes, write_archive_file
from cde_exchanges.fakes.synthetic_funding import random_funding
from cde_exchanges.fakes.synthetic_trades import random_trades
from cde_exchanges.formats.archive_files import ArchiveFile
from cde_exchanges.formats.binance import BinanceArchive
from cde_exchanges.formats.kline_intervals import INTERVAL_US

BINANCE = BinanceArchive()
D1, D2 = date(2024, 6, 10), date(2024, 6, 11)
#: (market, symbol, interval, variant): spot files have no header and print 8 decimals; futures have one
KLINE_CASES = [
    ("spot", "BTCUSDT", "1s", ArchiveVariant()),
    ("spot", "ETHUSDT", "1m", ArchiveVariant(ts_unit="us")),
    ("um", "BTCUSDT", "5m", ArchiveVariant()),
    ("um", "ETHUSDT", "1h", ArchiveVariant(header=False)),
    ("cm", "BTCUSD_PERP", "15m", ArchiveVariant(contract_size=100.0)),
    ("cm", "ETHUSD_PERP", "4h", ArchiveVariant(contract_size=10.0)),
]
OPEN_TIME, OPEN, HIGH, LOW, CLOSE, VOLUME, CLOSE_TIME, QUOTE, COUNT, TAKER, TAKER_QUOTE = range(11)
Edit = Callable[[list[str]], list[str]]


def republish(root: Path, file: ArchiveFile, edit: Edit) -> None:
    """Replace the CSV of a published zip by ``edit(lines)`` (each line without its break) and republish
    its checksum: the file verifies, as a damaged file of the exchange would."""
    path = root / file.rel_path
    with zipfile.ZipFile(path) as archive:
        member = archive.namelist()[0]
        lines = archive.read(member).decode().splitlines()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, "".join(line + "\n" for line in edit(lines)))
    assert file.checksum_rel_path is not None
    (root / file.checksum_rel_path).write_text(checksum_line(path.read_bytes(), file.name))


def first_data_line(lines: list[str]) -> int:
    """0-based index of the first data line (after a header, where there is one)."""
    return 0 if lines[0].split(",", 1)[0].isdigit() else 1


def on_row(row: int, change: Callable[[list[str]], None]) -> Edit:
    """An edit applying ``change`` to the fields of data row ``row`` (0-based, after any header)."""
    def edit(lines: list[str]) -> list[str]:
        index = first_data_line(lines) + row
        fields = lines[index].split(",")
        change(fields)
        lines[index] = ",".join(fields)
        return lines
    return edit


def setter(column: int, value: Callable[[list[str]], str]) -> Callable[[list[str]], None]:
    def change(fields: list[str]) -> None:
        fields[column] = value(fields)
    return change


def duplicate(row: int) -> Edit:
    def edit(lines: list[str]) -> list[str]:
        index = first_data_line(lines) + row
        return [*lines[:index + 1], lines[index], *lines[index + 1:]]
    return edit


def step(fields: list[str], interval: str) -> int:
    """The interval's length in the file's unit (µs from 1e14 on, else ms)."""
    return INTERVAL_US[interval] if int(fields[OPEN_TIME]) >= 10**14 else INTERVAL_US[interval] // 1000


ROW = 3  # the damaged data row (4h files have 6)


def kline_edits(interval: str) -> list[tuple[str, Edit, str]]:
    """(case, edit, what the error says after ``line N: ``)."""
    return [
        ("low-above-open", on_row(ROW, setter(LOW, lambda f: str(float(f[HIGH]) * 2))), "a candle needs low <= open"),
        ("high-below-close", on_row(ROW, setter(HIGH, lambda f: str(float(f[LOW]) / 2))), "a candle needs low <= open"),
        ("negative-count", on_row(ROW, setter(COUNT, lambda f: "-3")), "count is -3, not a finite number >= 0"),
        ("taker-above-volume", on_row(ROW, setter(TAKER, lambda f: str(float(f[VOLUME]) * 2 + 1))),
         "taker_buy_volume"),
        ("taker-quote-above-quote", on_row(ROW, setter(TAKER_QUOTE, lambda f: str(float(f[QUOTE]) * 2 + 1))),
         "taker_buy_quote_volume"),
        ("off-grid", on_row(ROW, setter(OPEN_TIME, lambda f: str(int(f[OPEN_TIME]) + 1))),
         f"is not on the {interval} grid"),
        ("closes-after-its-interval",
         on_row(ROW, setter(CLOSE_TIME, lambda f: str(int(f[OPEN_TIME]) + step(f, interval)))),
         f"is not within the {interval} interval"),
        ("closes-before-it-opens", on_row(ROW, setter(CLOSE_TIME, lambda f: str(int(f[OPEN_TIME]) - 1))),
         f"is not within the {interval} interval"),
    ]


def read_partition(folder: Path) -> Any:
    return pq.read_table(folder / "part-0.parquet").replace_schema_metadata(None)


@pytest.mark.parametrize("case", KLINE_CASES, ids=lambda c: f"{c[0]}-{c[2]}")
def test_a_kline_row_that_is_no_candle_of_its_interval_fails_its_day_naming_the_line(
        case: tuple, archive_root: Path, server: ArchiveServer, config: CdeConfig, cde: Any) -> None:
    market, symbol, interval, variant = case
    lake = Lake(config.data_root)
    files = {day: BINANCE.daily_file(market, "klines", symbol, day, interval) for day in (D1, D2)}
    trades = {day: random_trades(day, 2_000, seed=i) for i, day in enumerate((D1, D2))}
    for name, edit, says in kline_edits(interval):
        for day, file in files.items():
            write_archive_file(archive_root, file, trades[day], variant)
        republish(archive_root, files[D1], edit)
        with zipfile.ZipFile(archive_root / files[D1].rel_path) as archive:
            lines = archive.read(archive.namelist()[0]).decode().splitlines()
        line = first_data_line(lines) + ROW + 1
        result = cde.download("binance", market, symbol, D1, D2, "--kind", "klines", "--interval", interval, "--force")
        assert result.exit_code == 1, (name, result.output)
        assert files[D1].name in result.stderr and f"line {line}: " in result.stderr and says in result.stderr, \
            (name, result.stderr)
        assert "Traceback" not in result.output
        assert not (lake.klines_dir("binance", market, interval, symbol, D1) / "part-0.parquet").exists(), name
        assert read_partition(lake.klines_dir("binance", market, interval, symbol, D2)).equals(
            conform(trades[D2], files[D2], variant)), name
        assert cde.verify_exit_code() == 0, name


@pytest.mark.parametrize("published,asked", [("1h", "1m"), ("1m", "1h"), ("1d", "4h"), ("1h", "1d"), ("5m", "15m")])
def test_a_file_of_another_interval_published_under_the_name_fails_its_day(
        published: str, asked: str, archive_root: Path, server: ArchiveServer, config: CdeConfig, cde: Any) -> None:
    trades = random_trades(D1, 2_000, seed=3)
    file = BINANCE.daily_file("um", "klines", "BTCUSDT", D1, asked)
    other = BINANCE.daily_file("um", "klines", "BTCUSDT", D1, published)
    write_archive_file(archive_root, file, trades)
    republish(archive_root, file, lambda _: csv_bytes(trades, other, ArchiveVariant()).decode().splitlines())
    result = cde.download("binance", "um", "BTCUSDT", D1, D1, "--kind", "klines", "--interval", asked)
    assert result.exit_code == 1, result.output
    assert file.name in result.stderr and f"does not hold {asked} candles" in result.stderr, result.stderr
    assert not any(Path(config.data_root).rglob("*.parquet"))


@pytest.mark.parametrize("case", KLINE_CASES[:3], ids=lambda c: f"{c[0]}-{c[2]}")
def test_two_klines_of_one_interval_fail_the_day(case: tuple, archive_root: Path, server: ArchiveServer,
                                                 config: CdeConfig, cde: Any) -> None:
    market, symbol, interval, variant = case
    file = BINANCE.daily_file(market, "klines", symbol, D1, interval)
    write_archive_file(archive_root, file, random_trades(D1, 2_000, seed=4), variant)
    republish(archive_root, file, duplicate(ROW))
    result = cde.download("binance", market, symbol, D1, D1, "--kind", "klines", "--interval", interval)
    assert result.exit_code == 1, result.output
    assert file.name in result.stderr and "open_time" in result.stderr and "appears 2 times" in result.stderr
    assert not any(Path(config.data_root).rglob("*.parquet"))
    assert cde.verify_exit_code() == 0


def duplicate_with_another_rate(lines: list[str]) -> list[str]:
    lines = duplicate(ROW)(lines)
    return on_row(ROW + 1, setter(2, lambda f: "0.0005"))(lines)


def funding_edits() -> list[tuple[str, Edit, str]]:
    return [("zero-hours", on_row(ROW, setter(1, lambda f: "0")), f"line {ROW + 2}: funding_interval_hours is 0"),
            ("negative-hours", on_row(ROW, setter(1, lambda f: "-8")), f"line {ROW + 2}: funding_interval_hours is -8"),
            ("two-rows-one-settlement", duplicate(ROW), "calc_time 2024-03-02T00:00:00"),
            ("two-rates-one-settlement", duplicate_with_another_rate, "appears 2 times")]


@pytest.mark.parametrize("market,symbol", [("um", "BTCUSDT"), ("cm", "BTCUSD_PERP")])
def test_a_funding_row_that_is_no_settlement_fails_its_month(market: str, symbol: str, archive_root: Path,
                                                             server: ArchiveServer, config: CdeConfig,
                                                             cde: Any) -> None:
    lake = Lake(config.data_root)
    months = [(2024, 3), (2024, 4)]
    rates = {m: random_funding(*m, seed=i) for i, m in enumerate(months)}
    files = {m: BINANCE.monthly_file(market, "fundingRate", symbol, *m) for m in months}
    for name, edit, says in funding_edits():
        for m, file in files.items():
            assert file is not None
            write_archive_file(archive_root, file, rates[m], ArchiveVariant(contract_size=100.0))
        republish(archive_root, files[(2024, 3)], edit)
        result = cde.download("binance", market, symbol, date(2024, 3, 1), date(2024, 4, 30), "--kind", "fundingRate",
                              "--force")
        assert result.exit_code == 1, (name, result.output)
        assert files[(2024, 3)].name in result.stderr and says in result.stderr, (name, result.stderr)
        assert not (lake.funding_dir("binance", market, symbol, date(2024, 3, 1)) / "part-0.parquet").exists(), name
        assert read_partition(lake.funding_dir("binance", market, symbol, date(2024, 4, 1))).equals(
            conform(rates[(2024, 4)], files[(2024, 4)], ArchiveVariant())), name
        assert cde.verify_exit_code() == 0, name
