"""Files that verify but cannot be trusted, values that are not trades, errors that must say where
(issue 14, items 4, 6, 9), through the real ``cde download`` command and the local archive server:

- a zip whose ``.CHECKSUM`` is 404 is *unverified*: its day fails unless ``--allow-unverified`` (then
  the provenance says so); only the zip's own 404 means "no data", and only that is remembered;
- a non-finite or non-positive price, a non-finite or negative quantity fails the day naming the file
  and the line; a zero quantity is kept and counted;
- every extraction error names the archive file and the line, and stays on its own day;
- a server that trickles a file is cut off by the per-file deadline.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cde_core.config import CdeConfig
from cde_core.errors import ConfigError
from cde_core.lake import Lake
from cde_exchanges.fakes.archive_server import ArchiveServer, Fault, parse_fault
from cde_exchanges.fakes.archive_writer import ArchiveVariant, checksum_line, conform, write_archive_file
from cde_exchanges.fakes.synthetic_trades import random_trades
from cde_exchanges.formats import csv_formats
from cde_exchanges.formats.archive_exchange import ArchiveExchange
from cde_exchanges.formats.binance import BinanceArchive
from cde_exchanges.formats.okx import OkxArchive

BINANCE, OKX = BinanceArchive(), OkxArchive()
D1, D2, D3 = date(2024, 6, 10), date(2024, 6, 11), date(2024, 6, 12)
N = 400


def partition(config: CdeConfig, exchange: str, market: str, kind: str, symbol: str, day: date) -> Path:
    return Lake(config.data_root, trade_kind=kind).trades_dir(exchange, market, symbol, day) / "part-0.parquet"


def publish(root: Path, adapter: ArchiveExchange, market: str, kind: str, symbol: str, days: list[date],
            variant: ArchiveVariant | None = None, interval: str | None = None) -> dict[date, Any]:
    out = {}
    for i, day in enumerate(days):
        file = adapter.daily_file(market, kind, symbol, day, interval)
        trades = random_trades(day, N, seed=i, first_id=1 + i * N)
        write_archive_file(root, file, trades, variant or ArchiveVariant())
        out[day] = conform(trades, file, variant or ArchiveVariant())
    return out


def edit_zip(root: Path, adapter: ArchiveExchange, market: str, kind: str, symbol: str, day: date,
             edit: Callable[[list[str]], list[str]]) -> str:
    """Replace the CSV in a published zip by ``edit(lines)`` (checksum republished); returns the zip's name."""
    file = adapter.daily_file(market, kind, symbol, day)
    path = root / file.rel_path
    with zipfile.ZipFile(path) as archive:
        member = archive.namelist()[0]
        lines = archive.read(member).decode().splitlines(keepends=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, "".join(edit(lines)))
    if file.checksum_rel_path is not None:
        (root / file.checksum_rel_path).write_text(checksum_line(path.read_bytes(), file.name))
    return file.name


def set_field(line_no: int, column: int, value: str) -> Callable[[list[str]], list[str]]:
    """An edit that sets field ``column`` of file line ``line_no`` (1-based) to ``value``."""
    def edit(lines: list[str]) -> list[str]:
        fields = lines[line_no - 1].rstrip("\n").split(",")
        fields[column] = value
        lines[line_no - 1] = ",".join(fields) + "\n"
        return lines
    return edit


# -- item 4: a zip without its checksum -------------------------------------------------------------------

@pytest.mark.parametrize("market,kind,symbol,variant,extra", [
    ("spot", "trades", "BTCUSDT", ArchiveVariant(), []),
    ("um", "aggTrades", "BTCUSDT", ArchiveVariant(), []),
    ("cm", "trades", "BTCUSD_PERP", ArchiveVariant(contract_size=100.0), []),
    ("um", "klines", "BTCUSDT", ArchiveVariant(), ["--interval", "1h"]),
], ids=lambda v: v if isinstance(v, str) else "")
def test_a_zip_whose_checksum_is_404_is_unverified_not_missing(market: str, kind: str, symbol: str,
                                                                 variant: ArchiveVariant, extra: list[str],
                                                                 archive_root: Path, server: ArchiveServer,
                                                                 config: CdeConfig, cde: Any) -> None:
    interval = "1h" if kind == "klines" else None
    publish(archive_root, BINANCE, market, kind, symbol, [D1, D2], variant, interval)
    server.add_fault(Fault("404"), "*2024-06-11.zip.CHECKSUM")
    args = ["--kind", kind, *extra]
    result = cde.download("binance", market, symbol, D1, D2, *args)
    assert result.exit_code == 1, result.output
    assert "published without its checksum" in result.stderr and "--allow-unverified" in result.stderr
    assert "1 downloaded, 0 skipped, 0 missing, 1 failed" in result.output
    assert server.requests("*2024-06-11.zip")  # the zip itself was asked for: it exists
    assert not list((Path(config.data_root) / ".cache").rglob("*2024-06-11.zip.json"))  # not remembered as "no data"
    assert cde.verify_exit_code() == 0

    accepted = cde.download("binance", market, symbol, D1, D2, *args, "--allow-unverified")
    assert accepted.exit_code == 0, accepted.output
    assert "1 downloaded, 1 skipped" in accepted.output
    lake = Lake(config.data_root)
    folder = (lake.klines_dir("binance", market, "1h", symbol, D2) if kind == "klines"
              else Lake(config.data_root, trade_kind=kind).trades_dir("binance", market, symbol, D2))
    prov = lake.read_provenance(folder)
    assert prov is not None and prov.extra["unverified_sources"] == [server.url + "/" + BINANCE.daily_file(
        market, kind, symbol, D2, "1h" if kind == "klines" else None).rel_path]
    day1 = (lake.klines_dir("binance", market, "1h", symbol, D1) if kind == "klines"
            else Lake(config.data_root, trade_kind=kind).trades_dir("binance", market, symbol, D1))
    assert "unverified_sources" not in lake.read_provenance(day1).extra  # type: ignore[union-attr]
    assert cde.verify_exit_code() == 0


def test_an_unverified_monthly_file_gives_way_to_the_verified_daily_files(archive_root: Path,
                                                                          server: ArchiveServer, config: CdeConfig,
                                                                          cde: Any) -> None:
    feb = [date(2024, 2, 27), date(2024, 2, 28), date(2024, 2, 29)]
    trades = {d: random_trades(d, N, seed=i, first_id=1 + i * N) for i, d in enumerate(feb)}
    monthly = BINANCE.monthly_file("spot", "trades", "BTCUSDT", 2024, 2)
    write_archive_file(archive_root, monthly, pa.concat_tables(trades.values()))
    for day in feb:
        write_archive_file(archive_root, BINANCE.daily_file("spot", "trades", "BTCUSDT", day), trades[day])
    server.add_fault(Fault("404"), "*-2024-02.zip.CHECKSUM")
    result = cde.download("binance", "spot", "BTCUSDT", feb[0], feb[-1], "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["report"]
    monthly_outcome = [f for f in report["files"] if f["url"].endswith(monthly.rel_path)]
    assert [(f["status"], f["unverified"]) for f in monthly_outcome] == [("failed", True)]
    assert "its daily files were used instead" in monthly_outcome[0]["error"]
    for day in feb:
        prov = Lake(config.data_root).read_provenance(partition(config, "binance", "spot", "trades", "BTCUSDT", day))
        assert prov is not None and prov.source.endswith(f"BTCUSDT-trades-{day}.zip")
        assert "unverified_sources" not in prov.extra
    assert cde.verify_exit_code() == 0


def test_zip_and_checksum_both_404_is_no_data(archive_root: Path, server: ArchiveServer, config: CdeConfig,
                                              cde: Any) -> None:
    server.add_fault(Fault("404"), "[?]prefix=*")  # no listing: the zip itself is asked for, and is 404
    result = cde.download("binance", "spot", "BTCUSDT", D1, D1)
    assert result.exit_code == 0 and "0 downloaded, 0 skipped, 1 missing, 0 failed" in result.output
    assert list((Path(config.data_root) / ".cache").rglob("*2024-06-10.zip.json"))


# -- item 6: values that are not trades ------------------------------------------------------------------

# (adapter, market, kind, symbol, variant, header lines, {rule column: CSV column index})
LAYOUTS = [
    (BINANCE, "spot", "trades", "BTCUSDT", ArchiveVariant(), 0, {"price": 1, "qty": 2, "quote_qty": 3}),
    (BINANCE, "um", "trades", "BTCUSDT", ArchiveVariant(), 1, {"price": 1, "qty": 2, "quote_qty": 3}),
    (BINANCE, "cm", "trades", "BTCUSD_PERP", ArchiveVariant(contract_size=100.0), 1,
     {"price": 1, "qty": 2, "base_qty": 3}),
    (BINANCE, "spot", "aggTrades", "BTCUSDT", ArchiveVariant(), 0, {"price": 1, "qty": 2}),
    (BINANCE, "cm", "aggTrades", "BTCUSD_PERP", ArchiveVariant(contract_size=100.0), 1, {"price": 1, "qty": 2}),
    (OKX, "spot", "trades", "BTC-USDT", ArchiveVariant(), 1, {"price": 3, "size": 4}),
]
BAD_VALUES = [("price", "-5.0"), ("price", "0"), ("price", "inf"), ("qty", "-0.1"), ("qty", "inf"),
              ("quote_qty", "-inf"), ("base_qty", "-1"), ("size", "-1"), ("size", "inf")]


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda v: f"{v[0].name}-{v[1]}-{v[2]}")
def test_values_that_are_not_trades_fail_the_day_naming_file_and_line(layout: tuple, archive_root: Path,
                                                                      server: ArchiveServer, config: CdeConfig,
                                                                      cde: Any) -> None:
    adapter, market, kind, symbol, variant, header, columns = layout
    days = [D1, D2, D3] if adapter.spill_days else [D1, D2]
    cases = [(name, value) for name, value in BAD_VALUES if name in columns]
    assert cases
    for name, value in cases:
        shutil.rmtree(Path(config.data_root) / ".cache", ignore_errors=True)  # each case's zips afresh
        publish(archive_root, adapter, market, kind, symbol, days, variant)
        line = header + 123
        zip_name = edit_zip(archive_root, adapter, market, kind, symbol, D1, set_field(line, columns[name], value))
        result = cde.download(adapter.name, market, symbol, D1, D1, "--kind", kind, "--force",
                              *(["--recheck-missing"] if adapter.spill_days else []))
        assert result.exit_code == 1, (name, value, result.output)
        assert zip_name in result.stderr and f"line {line}: {name} is " in result.stderr, (name, value, result.stderr)
        assert not partition(config, adapter.name, market, kind, symbol, D1).exists()
        assert cde.verify_exit_code() == 0


def test_nan_and_empty_fields_name_the_line(archive_root: Path, server: ArchiveServer, config: CdeConfig,
                                            cde: Any) -> None:
    for value in ("nan", ""):
        publish(archive_root, BINANCE, "um", "trades", "BTCUSDT", [D1])
        name = edit_zip(archive_root, BINANCE, "um", "trades", "BTCUSDT", D1, set_field(77, 1, value))
        result = cde.download("binance", "um", "BTCUSDT", D1, D1, "--force")
        assert result.exit_code == 1
        assert name in result.stderr and "line 77: empty value (or NaN) in column 'price'" in result.stderr


@pytest.mark.parametrize("adapter,market,symbol,time_column", [(BINANCE, "spot", "BTCUSDT", 4),
                                                               (BINANCE, "um", "BTCUSDT", 4),
                                                               (OKX, "spot", "BTC-USDT", 5)], ids=["spot", "um", "okx"])
def test_time_units_that_change_inside_a_file_name_the_line(adapter: ArchiveExchange, market: str, symbol: str,
                                                            time_column: int, archive_root: Path,
                                                            server: ArchiveServer, config: CdeConfig, cde: Any) -> None:
    for scale, message in ((1000, "timestamps mix milliseconds and microseconds"), (0.001, "looks like seconds"),
                           (1_000_000, "looks like nanoseconds"), (-1, "is negative")):
        shutil.rmtree(Path(config.data_root) / ".cache", ignore_errors=True)
        publish(archive_root, adapter, market, "trades", symbol, [D1, D2, D3] if adapter.spill_days else [D1])

        def rescale(lines: list[str], scale: float = scale) -> list[str]:
            fields = lines[249].rstrip("\n").split(",")
            fields[time_column] = str(int(int(fields[time_column]) * scale))
            lines[249] = ",".join(fields) + "\n"
            return lines

        name = edit_zip(archive_root, adapter, market, "trades", symbol, D1, rescale)
        result = cde.download(adapter.name, market, symbol, D1, D1, "--force", "--recheck-missing")
        assert result.exit_code == 1, result.output
        assert name in result.stderr and "line 250: " in result.stderr and message in result.stderr, result.stderr
        assert cde.verify_exit_code() == 0


@pytest.mark.parametrize("adapter,market,symbol,time_column", [(BINANCE, "spot", "BTCUSDT", 4),
                                                               (OKX, "spot", "BTC-USDT", 5)], ids=["spot", "okx"])
def test_a_file_in_nanoseconds_fails_its_day_naming_the_first_line(adapter: ArchiveExchange, market: str, symbol: str,
                                                                   time_column: int, archive_root: Path,
                                                                   server: ArchiveServer, config: CdeConfig,
                                                                   cde: Any) -> None:
    """Every time of the file in ns (a consistent unit, as µs it would be the year 56000): was an internal
    OverflowError (exit 2) while naming the dates found; now the day fails at line 1 and nothing is written."""
    publish(archive_root, adapter, market, "trades", symbol, [D1, D2] if adapter.spill_days else [D1])

    def to_nanos(lines: list[str]) -> list[str]:
        out = []
        for line in lines:
            fields = line.rstrip("\n").split(",")
            if fields[time_column].isdigit():
                fields[time_column] = str(int(fields[time_column]) * 1_000_000)
            out.append(",".join(fields) + "\n")
        return out

    name = edit_zip(archive_root, adapter, market, "trades", symbol, D1, to_nanos)
    result = cde.download(adapter.name, market, symbol, D1, D1)
    assert result.exit_code == 1, result.output
    header = 1 if adapter.spill_days else 0
    assert name in result.stderr and f"line {1 + header}: " in result.stderr, result.stderr
    assert "looks like nanoseconds" in result.stderr and "internal error" not in result.output, result.output
    assert not partition(config, adapter.name, market, "trades", symbol, D1).exists()
    assert cde.verify_exit_code() == 0


def test_zero_quantity_is_kept_and_counted(archive_root: Path, server: ArchiveServer, config: CdeConfig,
                                           cde: Any) -> None:
    publish(archive_root, BINANCE, "um", "trades", "BTCUSDT", [D1])
    edit_zip(archive_root, BINANCE, "um", "trades", "BTCUSDT", D1, set_field(11, 2, "0"))
    edit_zip(archive_root, BINANCE, "um", "trades", "BTCUSDT", D1, set_field(12, 2, "0.000"))
    result = cde.download("binance", "um", "BTCUSDT", D1, D1)
    assert result.exit_code == 0, result.output
    assert f"BTCUSDT {D1}: zero_qty=2" in result.output
    path = partition(config, "binance", "um", "trades", "BTCUSDT", D1)
    table = pq.read_table(path)
    assert table.num_rows == N and table.column("qty").to_pylist()[9:11] == [0.0, 0.0]
    assert cde.verify_exit_code() == 0


# -- item 9: errors name file and line, and stay on their day --------------------------------------------

@pytest.mark.parametrize("chunk", [None, 700], ids=["one-piece", "tiny-pieces"])
def test_a_garbage_line_names_file_and_line_and_fails_only_its_day(chunk: int | None, archive_root: Path,
                                                                   server: ArchiveServer, config: CdeConfig,
                                                                   cde: Any, monkeypatch: pytest.MonkeyPatch,
                                                                   ) -> None:
    if chunk is not None:  # the bad line far beyond the first piece: line numbers carry across pieces
        monkeypatch.setattr(csv_formats, "CHUNK_SIZE", chunk)
    expected = publish(archive_root, BINANCE, "um", "trades", "BTCUSDT", [D1, D2])

    def garbage(lines: list[str]) -> list[str]:
        lines.insert(40, "\n")  # a blank line (skipped by the parser, counted as the file's line 41)
        lines[300] = "garbage,row,here\n"  # file line 301
        return lines

    name = edit_zip(archive_root, BINANCE, "um", "trades", "BTCUSDT", D1, garbage)
    result = cde.download("binance", "um", "BTCUSDT", D1, D2)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and name in errors[0] and "line 301:" in errors[0], result.stderr
    assert "garbage,row,here" in errors[0]
    assert pq.read_table(partition(config, "binance", "um", "trades", "BTCUSDT", D2)).replace_schema_metadata(
        None).equals(expected[D2])
    assert not partition(config, "binance", "um", "trades", "BTCUSDT", D1).exists()
    assert cde.verify_exit_code() == 0


@pytest.mark.parametrize("adapter,market,symbol", [(BINANCE, "spot", "BTCUSDT"), (OKX, "spot", "BTC-USDT")],
                         ids=["binance", "okx"])
def test_a_short_row_and_an_empty_csv_name_file_and_line(adapter: ArchiveExchange, market: str, symbol: str,
                                                         archive_root: Path, server: ArchiveServer,
                                                         config: CdeConfig, cde: Any) -> None:
    days = [D1, D2, D3] if adapter.spill_days else [D1, D2]
    publish(archive_root, adapter, market, "trades", symbol, days)
    bad = edit_zip(archive_root, adapter, market, "trades", symbol, D1,
                   lambda lines: [*lines[:199], "1,2\n", *lines[200:]])
    empty = edit_zip(archive_root, adapter, market, "trades", symbol, D2, lambda lines: [])
    result = cde.download(adapter.name, market, symbol, D1, D2)
    assert result.exit_code == 1
    errors = "\n".join(line for line in result.stderr.splitlines() if line.startswith("error:"))
    assert f"{bad}" in errors and "line 200:" in errors, errors
    assert f"{empty}" in errors and "line 1: the CSV file is empty" in errors, errors
    assert cde.verify_exit_code() == 0


def test_a_trickling_server_is_cut_off_by_the_per_file_deadline(archive_root: Path, server: ArchiveServer,
                                                                config: CdeConfig, cde: Any) -> None:
    publish(archive_root, BINANCE, "spot", "trades", "BTCUSDT", [D1])
    zip_size = (archive_root / BINANCE.daily_file("spot", "trades", "BTCUSDT", D1).rel_path).stat().st_size
    delay = 0.1
    assert zip_size / 512 * delay > 4 * 0.3  # every 512 B piece is quick; the whole body is not
    config.download.file_deadline_s = 0.3
    config.download.retries = 1
    trickle = server.add_fault(Fault("trickle", delay_s=delay), "*2024-06-10.zip")
    result = cde.download("binance", "spot", "BTCUSDT", D1, D1)
    assert result.exit_code == 1
    assert "per-file deadline" in result.stderr and "gave up after 2 attempts" in result.stderr
    assert trickle.used == 2
    server.clear_faults()
    again = cde.download("binance", "spot", "BTCUSDT", D1, D1)
    assert again.exit_code == 0 and partition(config, "binance", "spot", "trades", "BTCUSDT", D1).exists()


def test_serve_archive_fault_specs() -> None:
    fault, pattern = parse_fault("trickle:*2024-06-11.zip:2")
    assert (fault.kind, fault.times, pattern) == ("trickle", 2, "*2024-06-11.zip")
    fault, pattern = parse_fault("404:*.CHECKSUM")
    assert (fault.kind, fault.times, pattern) == ("404", None, "*.CHECKSUM")
    with pytest.raises(ConfigError, match="KIND:GLOB"):
        parse_fault("teapot:*")


@pytest.mark.parametrize("adapter,market,symbol,variant,field", [
    (BINANCE, "cm", "BTCUSD_PERP", ArchiveVariant(contract_size=100.0), "contract_size"),
    (OKX, "swap", "BTC-USDT-SWAP", ArchiveVariant(contract_size=0.01), "ct_val"),
])
def test_params_that_would_store_wrong_numbers_are_refused_naming_the_nearest(
        adapter: ArchiveExchange, market: str, symbol: str, variant: ArchiveVariant, field: str,
        archive_root: Path, server: ArchiveServer, config: CdeConfig, cde: Any) -> None:
    """A contract size of 0 stored every notional (OKX: every quantity) as 0 with exit 0; a size under a
    misspelt symbol was ignored and the default used; a misspelt parameter named no nearest name."""
    expected = publish(archive_root, adapter, market, "trades", symbol, [D1, D2], variant)
    size = variant.contract_size
    typo = symbol[:-2] + symbol[-1] + symbol[-2]  # two neighbouring letters swapped
    cases = [
        ({field: {symbol: 0}}, f"'{field}.{symbol}' for the {adapter.name} adapter: Input should be greater than 0"),
        ({field: {symbol: -size}}, "Input should be greater than 0"),  # type: ignore[operator]
        ({field: {symbol: float("inf")}}, "Input should be a finite number"),
        ({field: {typo: size}}, f"--params {field} names {typo}, which this download does not fetch"),
        ({field[:-1] + "x": {}}, f"did you mean {field}?"),
    ]
    for params, says in cases:
        result = cde.download(adapter.name, market, symbol, D1, D1, "--params", json.dumps(params))
        said = f"{result.stderr} {result.exception or ''}"  # in-process: the CdeError is not printed
        assert result.exit_code == 1 and says in said, (params, said)
        assert isinstance(result.exception, ConfigError) and "\n" not in str(result.exception)
        assert not partition(config, adapter.name, market, "trades", symbol, D1).exists()
    # a key of another instrument one slip away is no typo when the symbol has its own key
    shared = {field: {symbol: size, typo: 1.0}}
    result = cde.download(adapter.name, market, symbol, D1, D1, "--params", json.dumps(shared))
    assert result.exit_code == 0, result.output
    assert pq.read_table(partition(config, adapter.name, market, "trades", symbol, D1)).replace_schema_metadata(
        None).equals(expected[D1])
