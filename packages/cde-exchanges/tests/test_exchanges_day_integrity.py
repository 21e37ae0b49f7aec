"""No archive file may lose, truncate or invent a day (issue 14, items 1-3), through the real
``cde download`` command and the local archive server, for every trade kind and market:

- a row of another day inside a file never rewrites that day: it is counted on the file's own day
  (``foreign_rows``) and never written;
- an OKX day whose next file (UTC+8 cut) is missing or not published yet is *incomplete*: not written,
  fetched again by the next run, which then writes it whole;
- a file whose rows are (mostly) dated outside its day fails that day with the dates found, and
  nothing of it is written.

After every run, ``cde lake verify`` exits 0 and every committed day equals the trades of that UTC day
as generated (the oracle), so verify passes exactly when the lake is whole.
"""

from __future__ import annotations

import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from cde_core.config import CdeConfig
from cde_core.lake import Lake
from cde_exchanges.download.models import DownloadRequest
from cde_exchanges.download.service import run_download
from cde_exchanges.fakes.archive_server import ArchiveServer, Fault
from cde_exchanges.fakes.archive_writer import ArchiveVariant, checksum_line, conform, write_archive_file
from cde_exchanges.fakes.synthetic_trades import random_trades
from cde_exchanges.formats.archive_exchange import ArchiveExchange
from cde_exchanges.formats.binance import BinanceArchive
from cde_exchanges.formats.okx import OkxArchive
from cde_exchanges.utc_days import DAY_US, day_start_us

BINANCE, OKX = BinanceArchive(), OkxArchive()
D1, D2, D3 = date(2024, 6, 10), date(2024, 6, 11), date(2024, 6, 12)
UTC8_US = 8 * 3_600_000_000

# (adapter, market, kind, symbol, variant): every trade kind of every market
CASES = [
    (BINANCE, "spot", "trades", "BTCUSDT", ArchiveVariant()),
    (BINANCE, "spot", "aggTrades", "ETHUSDT", ArchiveVariant()),
    (BINANCE, "um", "trades", "BTCUSDT", ArchiveVariant()),
    (BINANCE, "um", "aggTrades", "BTCUSDT", ArchiveVariant()),
    (BINANCE, "cm", "trades", "BTCUSD_PERP", ArchiveVariant(contract_size=100.0)),
    (BINANCE, "cm", "aggTrades", "ETHUSD_PERP", ArchiveVariant(contract_size=10.0)),
    (OKX, "spot", "trades", "BTC-USDT", ArchiveVariant()),
    (OKX, "swap", "aggTrades", "BTC-USDT-SWAP", ArchiveVariant(contract_size=0.01)),
]
Case = tuple[ArchiveExchange, str, str, str, ArchiveVariant]


def case_id(case: Case) -> str:
    return f"{case[0].name}-{case[1]}-{case[2]}"


def utc_days(days: list[date], n: int = 300) -> dict[date, pa.Table]:
    """Each UTC day's trades, ids continuing from day to day."""
    out, first = {}, 1
    for i, day in enumerate(days):
        out[day] = random_trades(day, n, seed=i, first_id=first)
        first += n
    return out


def file_rows(adapter: ArchiveExchange, trades: dict[date, pa.Table], file_day: date) -> pa.Table:
    """The rows the exchange puts in the daily file of ``file_day``: the UTC day for Binance, the UTC+8 day
    (from 16:00 UTC the day before to 16:00 UTC) for OKX, whose files spill."""
    start = day_start_us(file_day) - (UTC8_US if adapter.spill_days else 0)
    table = pa.concat_tables(trades.values())
    ts = pc.cast(table.column("ts"), pa.int64())
    return table.filter(pc.and_(pc.greater_equal(ts, start), pc.less(ts, start + DAY_US)))


def publish(root: Path, case: Case, trades: dict[date, pa.Table], file_days: list[date],
            first_rows: dict[date, pa.Table] | None = None) -> None:
    """Write the daily file of each of ``file_days``; ``first_rows[day]`` is put at the top of that file."""
    adapter, market, kind, symbol, variant = case
    for day in file_days:
        rows = file_rows(adapter, trades, day)
        if first_rows and day in first_rows:
            rows = pa.concat_tables([first_rows[day], rows])
        write_archive_file(root, adapter.daily_file(market, kind, symbol, day), rows, variant)


def partition(config: CdeConfig, case: Case, day: date) -> Path:
    adapter, market, kind, symbol, _ = case
    return Lake(config.data_root, trade_kind=kind).trades_dir(adapter.name, market, symbol, day) / "part-0.parquet"


def read_day(config: CdeConfig, case: Case, day: date) -> pa.Table:
    return pq.read_table(partition(config, case, day)).replace_schema_metadata(None)


def expected_day(case: Case, trades: dict[date, pa.Table], day: date) -> pa.Table:
    adapter, market, kind, symbol, variant = case
    return conform(trades[day], adapter.daily_file(market, kind, symbol, day), variant)


def validation(config: CdeConfig, case: Case, day: date) -> dict[str, Any]:
    prov = Lake(config.data_root).read_provenance(partition(config, case, day))
    assert prov is not None
    return prov.extra["validation"]


def cli_args(case: Case) -> list[str]:
    return ["--kind", case[2]]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_a_row_of_another_day_never_rewrites_that_day(case: Case, archive_root: Path, server: ArchiveServer,
                                                      config: CdeConfig, cde: Any) -> None:
    adapter, market, _, symbol, _ = case
    trades = utc_days([D1, D2, D3])
    last_file = D2 + timedelta(days=adapter.spill_days)  # the last file a D1..D2 run reads
    late = trades[D1].slice(trades[D1].num_rows - 1, 1)  # D1's last trade again (a boundary duplicate)
    publish(archive_root, case, trades, [D1, D2, D3], first_rows={last_file: late})

    result = cde.download(adapter.name, market, symbol, D1, D2, *cli_args(case))
    assert result.exit_code == 0, result.output
    for day in (D1, D2):
        assert read_day(cde.config, case, day).equals(expected_day(case, trades, day)), day
    found = validation(cde.config, case, D2)
    assert (found["foreign_rows"], found["foreign_dates"]) == (1, [str(D1)])
    assert f"{symbol} {D2}: foreign_rows=1 (rows of {D1} in this day's file, not written)" in result.output
    assert validation(cde.config, case, D1)["foreign_rows"] == 0
    assert cde.verify_exit_code() == 0

    before = partition(cde.config, case, D1).read_bytes()
    again = cde.download(adapter.name, market, symbol, D2, D2, *cli_args(case), "--force")  # D2 alone
    assert again.exit_code == 0, again.output
    assert partition(cde.config, case, D1).read_bytes() == before
    forced = cde.download(adapter.name, market, symbol, D1, D2, *cli_args(case), "--force")
    assert forced.exit_code == 0, forced.output
    for day in (D1, D2):
        assert read_day(cde.config, case, day).equals(expected_day(case, trades, day)), day
    assert cde.verify_exit_code() == 0


def test_a_row_of_the_next_month_in_a_monthly_file_is_not_written(archive_root: Path, server: ArchiveServer,
                                                                  config: CdeConfig, cde: Any) -> None:
    case: Case = (BINANCE, "um", "trades", "BTCUSDT", ArchiveVariant())
    feb = [date(2024, 2, 1) + timedelta(days=i) for i in range(29)]
    mar1 = date(2024, 3, 1)
    trades = utc_days([*feb, mar1], n=60)
    early = trades[mar1].slice(0, 1)  # Mar 1's first trade, also at the end of February's monthly file
    monthly = BINANCE.monthly_file("um", "trades", "BTCUSDT", 2024, 2)
    write_archive_file(archive_root, monthly, pa.concat_tables([*(trades[d] for d in feb), early]))
    publish(archive_root, case, trades, [mar1])
    result = cde.download("binance", "um", "BTCUSDT", feb[-2], mar1)
    assert result.exit_code == 0, result.output
    assert read_day(config, case, mar1).equals(expected_day(case, trades, mar1))
    assert read_day(config, case, feb[-1]).equals(expected_day(case, trades, feb[-1]))
    found = validation(config, case, feb[-1])
    assert (found["foreign_rows"], found["foreign_dates"]) == (1, [str(mar1)])
    assert cde.verify_exit_code() == 0


OKX_CASES = [c for c in CASES if c[0] is OKX]


@pytest.mark.parametrize("case", OKX_CASES, ids=case_id)
def test_okx_day_without_its_next_file_is_incomplete_until_that_file_exists(
        case: Case, archive_root: Path, server: ArchiveServer, config: CdeConfig, cde: Any) -> None:
    adapter, market, kind, symbol, _ = case
    trades = utc_days([D1, D2, D3])
    publish(archive_root, case, trades, [D1, D2])  # the file of D3, holding D2's last 8 hours, is 404
    result = cde.download("okx", market, symbol, D1, D2, *cli_args(case))
    assert result.exit_code == 0, result.output
    assert "1 downloaded, 0 skipped, 0 missing, 1 incomplete, 0 failed" in result.output
    assert f"incomplete: {symbol} {D2}: incomplete, not written" in result.stderr
    assert adapter.daily_file(market, kind, symbol, D3).name in result.stderr
    assert read_day(config, case, D1).equals(expected_day(case, trades, D1))
    assert not partition(config, case, D2).exists()
    assert cde.verify_exit_code() == 0

    publish(archive_root, case, trades, [D3])
    later = cde.download("okx", market, symbol, D1, D2, *cli_args(case), "--recheck-missing")
    assert later.exit_code == 0, later.output
    assert "1 downloaded, 1 skipped" in later.output
    assert read_day(config, case, D2).equals(expected_day(case, trades, D2))
    assert cde.verify_exit_code() == 0


def test_okx_yesterday_is_incomplete_while_today_s_file_is_not_published(archive_root: Path,
                                                                       server: ArchiveServer,
                                                                       config: CdeConfig) -> None:
    case = OKX_CASES[0]
    trades = utc_days([D1, D2])
    publish(archive_root, case, trades, [D1, D2])
    request = DownloadRequest(exchange="okx", market="spot", symbols=["BTC-USDT"], start=D1, end=D2)
    report = run_download(request, adapter=OKX, config=config, today=D3)  # D3's file does not exist yet
    assert [(d.date, d.status) for d in report.days] == [(D1, "written"), (D2, "incomplete")]
    assert not server.requests("*2024-06-12.zip")  # a file of today is not even asked for
    assert not partition(config, case, D2).exists()


def test_okx_month_whose_next_daily_file_is_missing_keeps_its_last_day_out(archive_root: Path,
                                                                           server: ArchiveServer,
                                                                           config: CdeConfig, cde: Any) -> None:
    case = OKX_CASES[0]
    feb = [date(2024, 2, 1) + timedelta(days=i) for i in range(29)]
    trades = utc_days([*feb, date(2024, 3, 1)], n=48)
    monthly = OKX.monthly_file("spot", "trades", "BTC-USDT", 2024, 2)
    assert monthly is not None
    in_file = file_rows(OKX, trades, feb[0])
    for day in feb[1:]:
        in_file = pa.concat_tables([in_file, file_rows(OKX, trades, day)])
    write_archive_file(archive_root, monthly, in_file)  # the UTC+8 month: Feb 29 after 16:00 is in Mar 1's file
    result = cde.download("okx", "spot", "BTC-USDT", feb[0], feb[-1])
    assert result.exit_code == 0, result.output
    assert "28 downloaded, 0 skipped, 0 missing, 1 incomplete" in result.output
    assert not partition(config, case, feb[-1]).exists()
    assert read_day(config, case, feb[-2]).equals(expected_day(case, trades, feb[-2]))
    assert cde.verify_exit_code() == 0


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_a_file_of_another_day_fails_its_day_and_writes_nothing(case: Case, archive_root: Path,
                                                                server: ArchiveServer, config: CdeConfig,
                                                                cde: Any) -> None:
    adapter, market, kind, symbol, variant = case
    trades = utc_days([D1, D2, D3])
    far = date(2024, 6, 20)
    publish(archive_root, case, trades, [D1, D3])
    # the file named for D2 holds the trades of another day (checksum valid: published so)
    moved = pc.add(pc.cast(trades[D1].column("ts"), pa.int64()), (far - D1).days * DAY_US)
    shifted = trades[D1].set_column(0, "ts", pc.cast(moved, trades[D1].schema.field("ts").type))
    write_archive_file(archive_root, adapter.daily_file(market, kind, symbol, D2), shifted, variant)
    result = cde.download(adapter.name, market, symbol, D1, D2, *cli_args(case))
    assert result.exit_code == 1, result.output
    assert f"300 of 300 rows are dated {far}, not {D2} as the file's name says" in result.stderr
    assert adapter.daily_file(market, kind, symbol, D2).name in result.stderr
    assert not partition(config, case, D2).exists()
    if adapter.spill_days:  # D1's last 8 hours are in the bad file: D1 cannot be whole either
        assert not partition(config, case, D1).exists()
    else:
        assert read_day(config, case, D1).equals(expected_day(case, trades, D1))
    assert cde.verify_exit_code() == 0


def test_a_file_mostly_of_another_day_fails(archive_root: Path, server: ArchiveServer, config: CdeConfig,
                                            cde: Any) -> None:
    case = CASES[0]
    trades = utc_days([D1, D2])
    publish(archive_root, case, trades, [D1])
    mostly = pa.concat_tables([trades[D1].slice(0, 200), trades[D2].slice(0, 10)])
    write_archive_file(archive_root, BINANCE.daily_file("spot", "trades", "BTCUSDT", D2), mostly)
    result = cde.download("binance", "spot", "BTCUSDT", D1, D2)
    assert result.exit_code == 1
    assert f"200 of 210 rows are dated {D1}, not {D2}" in result.stderr
    assert not partition(config, case, D2).exists()
    assert read_day(config, case, D1).equals(expected_day(case, trades, D1))
    assert cde.verify_exit_code() == 0


def rewrite_zip(root: Path, rel_path: str, edit: Any, checksum_rel_path: str | None) -> None:
    """Replace the CSV inside a published zip by ``edit(lines)`` and publish its matching checksum."""
    path = root / rel_path
    with zipfile.ZipFile(path) as archive:
        member = archive.namelist()[0]
        lines = archive.read(member).decode().splitlines(keepends=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, "".join(edit(lines)))
    if checksum_rel_path is not None:
        (root / checksum_rel_path).write_text(checksum_line(path.read_bytes(), path.name))


def test_timestamps_in_seconds_fail_the_day(archive_root: Path, server: ArchiveServer, config: CdeConfig,
                                            cde: Any) -> None:
    case = CASES[0]
    trades = utc_days([D1])
    publish(archive_root, case, trades, [D1])
    file = BINANCE.daily_file("spot", "trades", "BTCUSDT", D1)

    def to_seconds(lines: list[str]) -> list[str]:
        out = []
        for line in lines:
            fields = line.split(",")
            fields[4] = str(int(fields[4]) // 1000)
            out.append(",".join(fields))
        return out

    rewrite_zip(archive_root, file.rel_path, to_seconds, file.checksum_rel_path)
    result = cde.download("binance", "spot", "BTCUSDT", D1, D1)
    assert result.exit_code == 1
    assert "line 1: time " in result.stderr and "looks like seconds" in result.stderr and file.name in result.stderr
    assert not partition(config, case, D1).exists()
    assert cde.verify_exit_code() == 0


def test_a_klines_file_of_another_day_fails_its_day(archive_root: Path, server: ArchiveServer,
                                                    config: CdeConfig, cde: Any) -> None:
    trades = utc_days([D1], n=500)
    day1 = write_archive_file(archive_root, BINANCE.daily_file("um", "klines", "BTCUSDT", D1, "1h"), trades[D1])
    file2 = BINANCE.daily_file("um", "klines", "BTCUSDT", D2, "1h")  # D1's candles published under D2's name
    (archive_root / file2.rel_path).parent.mkdir(parents=True, exist_ok=True)
    (archive_root / file2.rel_path).write_bytes(day1.read_bytes())
    (archive_root / str(file2.checksum_rel_path)).write_text(checksum_line(day1.read_bytes(), file2.name))
    result = cde.download("binance", "um", "BTCUSDT", D1, D2, "--kind", "klines", "--interval", "1h")
    assert result.exit_code == 1, result.output
    assert f"24 of 24 rows are dated {D1}, not {D2}" in result.stderr
    klines = Lake(config.data_root).klines_dir("binance", "um", "1h", "BTCUSDT", D2)
    assert not (klines / "part-0.parquet").exists()
    assert (Lake(config.data_root).klines_dir("binance", "um", "1h", "BTCUSDT", D1) / "part-0.parquet").exists()
    assert cde.verify_exit_code() == 0


def test_okx_day_whose_own_file_is_missing_is_not_made_of_the_next_file_alone(
        archive_root: Path, server: ArchiveServer, config: CdeConfig, cde: Any) -> None:
    case = OKX_CASES[0]
    trades = utc_days([D1, D2])
    publish(archive_root, case, trades, [D2])  # D1's own file is 404; D2's holds D1's last 8 hours
    server.add_fault(Fault("404"), "*2024-06-10.zip")
    result = cde.download("okx", "spot", "BTC-USDT", D1, D1)
    assert result.exit_code == 0, result.output
    assert f"incomplete: BTC-USDT {D1}" in result.stderr
    assert not partition(config, case, D1).exists()
    assert cde.verify_exit_code() == 0


def test_a_partition_marked_incomplete_fails_verify_and_is_fetched_again(archive_root: Path,
                                                                        server: ArchiveServer,
                                                                        config: CdeConfig, cde: Any) -> None:
    case = CASES[0]
    trades = utc_days([D1])
    publish(archive_root, case, trades, [D1])
    assert cde.download("binance", "spot", "BTCUSDT", D1, D1).exit_code == 0
    lake = Lake(config.data_root)
    path = partition(config, case, D1)
    prov = lake.read_provenance(path)
    assert prov is not None
    half = read_day(config, case, D1).slice(0, 100)  # what a writer that knew the day was partial would leave
    marked = prov.model_copy(update={"rows": 100, "last_trade_id": 100,
                                     "extra": {**prov.extra, "complete": False}})
    lake.write_partition(path.parent, half, marked)
    assert cde.verify_exit_code() == 1
    listed = cde("lake", "ls", "--json")
    assert f"{D1}: incomplete" in listed.output
    again = cde.download("binance", "spot", "BTCUSDT", D1, D1)  # not taken as present: fetched again
    assert again.exit_code == 0 and "1 downloaded, 0 skipped" in again.output
    assert read_day(config, case, D1).equals(expected_day(case, trades, D1))
    assert cde.verify_exit_code() == 0


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_a_republished_file_with_fewer_rows_never_replaces_a_committed_day(
        case: Case, archive_root: Path, server: ArchiveServer, config: CdeConfig, cde: Any) -> None:
    """``--force`` after the exchange republished a day's file shorter (partial, header only): the lake's
    whole day stays, the day fails naming both counts and the partition, the other days are rewritten
    without a false id gap against the refused rows; a file at least as long replaces the day."""
    adapter, market, kind, symbol, variant = case
    trades = utc_days([D1, D2, D3])
    publish(archive_root, case, trades, [D1, D2, D3])
    assert cde.download(adapter.name, market, symbol, D1, D2, *cli_args(case)).exit_code == 0
    whole = partition(config, case, D1).read_bytes()
    file = adapter.daily_file(market, kind, symbol, D1)
    for keep in (0.5, 0.0):  # half the file, then only its header (or nothing for a headerless file)
        rows = file_rows(adapter, trades, D1)
        write_archive_file(archive_root, file, rows.slice(0, int(rows.num_rows * keep)), variant)
        result = cde.download(adapter.name, market, symbol, D1, D2, *cli_args(case), "--force")
        assert result.exit_code == 1, result.output
        assert partition(config, case, D1).read_bytes() == whole
        if keep == 0.0 and "the CSV file is empty" in result.stderr:  # a headerless file with no line
            continue
        assert file.name in result.stderr and f"for {symbol} {D1}, fewer than the {trades[D1].num_rows:,}" \
            in result.stderr, result.stderr
        assert str(partition(config, case, D1)) in result.stderr
        assert partition(config, case, D1).read_bytes() == whole
        assert read_day(config, case, D2).equals(expected_day(case, trades, D2))
        assert validation(config, case, D2)["gaps"] == 0
        assert cde.verify_exit_code() == 0
    publish(archive_root, case, trades, [D1])
    result = cde.download(adapter.name, market, symbol, D1, D2, *cli_args(case), "--force")
    assert result.exit_code == 0, result.output
    assert "2 downloaded" in result.output
    assert read_day(config, case, D1).equals(expected_day(case, trades, D1))


def test_a_day_a_monthly_file_lacks_is_written_empty_and_said_so(archive_root: Path, server: ArchiveServer,
                                                                config: CdeConfig, cde: Any) -> None:
    """A monthly file without one day's rows (a day without trading, or a damaged file): the day is written
    without rows (its file was read whole), and the summary says so on a line of its own instead of
    counting it among the days downloaded and nothing more."""
    days = [date(2024, 4, 1) + timedelta(days=i) for i in range(30)]
    empty = date(2024, 4, 15)
    trades = utc_days(days, n=40)
    write_archive_file(archive_root, BINANCE.monthly_file("spot", "trades", "SOLUSDT", 2024, 4),
                       pa.concat_tables([trades[d] for d in days if d != empty]))
    result = cde.download("binance", "spot", "SOLUSDT", days[0], days[-1])
    assert result.exit_code == 0, result.output
    assert f"validation: SOLUSDT {empty}: no trades: the file(s) of the day hold no row of it" in result.output
    assert sum("no trades" in line for line in result.output.splitlines()) == 1
    assert pq.read_metadata(Lake(config.data_root).trades_dir("binance", "spot", "SOLUSDT", empty)
                            / "part-0.parquet").num_rows == 0
    assert cde.verify_exit_code() == 0
