"""Generated archive → local server → download → lake → read back: exactly the generated trades,
for every exchange / market / kind / format variant."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cde_core.config import CdeConfig
from cde_core.lake import Lake
from cde_core.lake_location import arrow_target
from cde_exchanges.download.models import DownloadRequest
from cde_exchanges.download.service import run_download
from cde_exchanges.fakes.archive_server import ArchiveServer
from cde_exchanges.fakes.archive_writer import ArchiveVariant, conform, write_archive_file
from cde_exchanges.fakes.synthetic_trades import random_trades
from cde_exchanges.formats import csv_formats
from cde_exchanges.formats.binance import BinanceArchive
from cde_exchanges.formats.okx import OkxArchive

TODAY = date(2025, 6, 15)

# (adapter, market, kind, symbol, variant, days)
CASES = [
    (BinanceArchive(), "spot", "trades", "BTCUSDT", ArchiveVariant(), [date(2024, 12, 31), date(2025, 1, 1)]),
    (BinanceArchive(), "spot", "aggTrades", "ETHUSDT", ArchiveVariant(), [date(2024, 3, 1)]),
    (BinanceArchive(), "um", "trades", "BTCUSDT", ArchiveVariant(header=True), [date(2024, 3, 1)]),
    (BinanceArchive(), "um", "trades", "BTCUSDT", ArchiveVariant(header=False), [date(2022, 8, 1)]),
    (BinanceArchive(), "um", "aggTrades", "BTCUSDT", ArchiveVariant(), [date(2022, 8, 10), date(2022, 8, 11)]),
    (BinanceArchive(), "cm", "trades", "BTCUSD_PERP", ArchiveVariant(contract_size=100.0), [date(2024, 3, 1)]),
    (BinanceArchive(), "cm", "trades", "ETHUSD_PERP", ArchiveVariant(contract_size=10.0, header=False),
     [date(2022, 3, 1)]),
    (BinanceArchive(), "cm", "aggTrades", "BTCUSD_PERP", ArchiveVariant(contract_size=100.0), [date(2024, 3, 1)]),
    (OkxArchive(), "spot", "trades", "BTC-USDT", ArchiveVariant(), [date(2024, 3, 1), date(2024, 3, 2)]),
    (OkxArchive(), "spot", "trades", "ETH-USDT", ArchiveVariant(okx_header="english_source"), [date(2024, 3, 1)]),
    (OkxArchive(), "swap", "trades", "BTC-USDT-SWAP", ArchiveVariant(contract_size=0.01, okx_header="bilingual"),
     [date(2024, 3, 1)]),
    (OkxArchive(), "swap", "trades", "BTC-USD-SWAP", ArchiveVariant(contract_size=100.0, inverse=True),
     [date(2024, 3, 1)]),
    (OkxArchive(), "spot", "aggTrades", "BTC-USDT", ArchiveVariant(okx_header="english_source"),
     [date(2024, 3, 1), date(2024, 3, 2)]),
    (OkxArchive(), "swap", "aggTrades", "ETH-USDT-SWAP", ArchiveVariant(contract_size=0.1, okx_header="bilingual"),
     [date(2024, 3, 1)]),
    (OkxArchive(), "swap", "aggTrades", "BTC-USD-SWAP", ArchiveVariant(contract_size=100.0, inverse=True),
     [date(2024, 3, 1)]),
]


def read_back(lake: Lake, exchange: str, market: str, symbol: str, day: date) -> pa.Table:
    path = lake.trades_dir(exchange, market, symbol, day) / "part-0.parquet"  # the lake's own trade kind
    where, filesystem = arrow_target(path)
    return pq.read_table(where, filesystem=filesystem).replace_schema_metadata(None)


@pytest.mark.parametrize("data_root", ["local", "s3"], indirect=True)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0].name}-{c[1]}-{c[2]}-{c[3]}-{c[5][0]}")
def test_round_trip_every_variant(case: tuple, archive_root: Path, server: ArchiveServer,
                                  config: CdeConfig) -> None:
    adapter, market, kind, symbol, variant, days = case
    expected = {}
    first_id = 1000
    for i, day in enumerate(days):
        trades = random_trades(day, 500 + 37 * i, seed=i, first_id=first_id)
        first_id += trades.num_rows
        file = adapter.daily_file(market, kind, symbol, day)
        write_archive_file(archive_root, file, trades, variant)
        expected[day] = conform(trades, file, variant)
    for extra in range(1, adapter.spill_days + 1):  # OKX: the next file holds the last day's UTC+8 tail
        after = days[-1] + timedelta(days=extra)
        write_archive_file(archive_root, adapter.daily_file(market, kind, symbol, after),
                           random_trades(after, 50, seed=9, first_id=first_id), variant)
        first_id += 50
    request = DownloadRequest(exchange=adapter.name, market=market, kind=kind, symbols=[symbol],
                              start=days[0], end=days[-1])
    report = run_download(request, adapter=adapter, config=config, today=TODAY)
    assert report.count_days("written") == len(days), report.summary()
    lake = Lake(config.data_root, trade_kind=kind)
    for day, table in expected.items():
        got = read_back(lake, adapter.name, market, symbol, day)
        assert got.equals(table)
        prov = lake.read_provenance(lake.trades_dir(adapter.name, market, symbol, day))
        assert prov is not None and prov.rows == table.num_rows
        assert prov.first_trade_id == table.column("trade_id")[0].as_py()
        assert prov.extra["validation"]["gaps"] == 0


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0].name}-{c[1]}-{c[2]}-{c[3]}")
def test_round_trip_in_tiny_pieces(case: tuple, archive_root: Path, server: ArchiveServer, config: CdeConfig,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Every piece boundary (header in the first piece only, days cut across pieces) gives the same lake."""
    monkeypatch.setattr(csv_formats, "CHUNK_SIZE", 700)
    test_round_trip_every_variant(case, archive_root, server, config)
