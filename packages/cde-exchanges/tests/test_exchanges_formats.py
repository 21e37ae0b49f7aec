"""Parsers against hand-computed rows, the README example rows and real exchange replies."""

from __future__ import annotations

import json
import re
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from cde_core.errors import DataError
from cde_exchanges.fakes.archive_writer import checksum_line
from cde_exchanges.fetching.archive_fetcher import parse_checksum, parse_retry_after
from cde_exchanges.formats.archive_files import ArchiveFile
from cde_exchanges.formats.binance import BinanceArchive, BinanceParams
from cde_exchanges.formats.csv_formats import has_header, okx_header_names
from cde_exchanges.formats.okx import OkxArchive, OkxParams

REAL = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "real"  # ../shared beside the repo


def zip_csv(tmp_path: Path, text: str, name: str = "x.csv") -> Path:
    path = tmp_path / "x.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(name, text)
    return path


def read(adapter: BinanceArchive | OkxArchive, tmp_path: Path, text: str, market: str, kind: str = "trades",
         symbol: str = "BTCUSDT", params: object = None) -> pa.Table:
    file = ArchiveFile(adapter.name, market, kind, symbol, "daily", date(2024, 1, 1), date(2024, 1, 1),
                       "x.zip", None)
    params = params or adapter.Params()
    return pa.Table.from_batches(list(adapter.read_trades(zip_csv(tmp_path, text), file, params)))


def us(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def test_readme_spot_row(tmp_path: Path) -> None:
    t = read(BinanceArchive(), tmp_path, "51175358,17.80180000,5.69000000,101.29224200,1583709433583,True,True\n",
             "spot").to_pylist()
    assert t == [{"ts": us(1583709433583), "trade_id": 51175358, "price": 17.8018, "qty": 5.69,
                  "quote_qty": 101.292242, "is_buyer_maker": True}]


def test_spot_microseconds_2025(tmp_path: Path) -> None:
    t = read(BinanceArchive(), tmp_path, "7,1.5,2.0,3.0,1735689600123456,False,True\n", "spot")
    assert t.column("ts")[0].value == 1735689600123456
    assert t.column("is_buyer_maker").to_pylist() == [False]


def test_um_with_and_without_header(tmp_path: Path) -> None:
    row = "28457,4.00000100,12.00000000,48.00,1499865549590,true\n"
    header = "id,price,qty,quote_qty,time,is_buyer_maker\n"
    a = read(BinanceArchive(), tmp_path, row, "um")
    b = read(BinanceArchive(), tmp_path, header + row, "um")
    assert a.equals(b) and a.num_rows == 1
    assert a.to_pylist()[0] == {"ts": us(1499865549590), "trade_id": 28457, "price": 4.000001, "qty": 12.0,
                                "quote_qty": 48.0, "is_buyer_maker": True}


def test_cm_contracts_to_notional(tmp_path: Path) -> None:
    # README row: 1 contract of BTCUSD at 9635.0 is 0.01037883 BTC, i.e. 100 USD notional
    t = read(BinanceArchive(), tmp_path, "28457,9635.0,1,0.01037883,1591250192508,true\n", "cm",
             symbol="BTCUSD_PERP")
    assert t.to_pylist()[0]["qty"] == 0.01037883 and t.to_pylist()[0]["quote_qty"] == 100.0
    eth = read(BinanceArchive(), tmp_path, "id,price,qty,base_qty,time,is_buyer_maker\n"
                                           "1,2000.0,3,0.015,1591250192508,false\n", "cm", symbol="ETHUSD_PERP")
    assert eth.to_pylist()[0]["quote_qty"] == 30.0
    custom = read(BinanceArchive(), tmp_path, "1,2000.0,3,0.015,1591250192508,false\n", "cm",
                  symbol="ETHUSD_PERP", params=BinanceParams(contract_size={"ETHUSD_PERP": 5.0}))
    assert custom.to_pylist()[0]["quote_qty"] == 15.0


def test_aggtrades_use_agg_id_and_price_times_qty(tmp_path: Path) -> None:
    spot = read(BinanceArchive(), tmp_path, "0,0.20000000,50.00000000,0,0,1608872400000,False,True\n", "spot",
                "aggTrades")
    assert spot.to_pylist()[0] == {"ts": us(1608872400000), "trade_id": 0, "price": 0.2, "qty": 50.0,
                                   "quote_qty": 0.2 * 50.0, "is_buyer_maker": False}
    fut = read(BinanceArchive(), tmp_path, "agg_trade_id,price,quantity,first_trade_id,last_trade_id,"
                                           "transact_time,is_buyer_maker\n"
                                           "26129,0.01633102,4.70443515,27781,27781,1498793709153,true\n",
               "um", "aggTrades")
    assert fut.to_pylist()[0]["trade_id"] == 26129 and fut.to_pylist()[0]["is_buyer_maker"] is True
    cm = read(BinanceArchive(), tmp_path, "5,50000.0,2,10,11,1598793709153,true\n", "cm", "aggTrades",
              symbol="BTCUSD_PERP")
    assert cm.to_pylist()[0]["quote_qty"] == 200.0 and cm.to_pylist()[0]["qty"] == 200.0 / 50000.0


def test_real_binance_trades_reply(tmp_path: Path) -> None:
    path = REAL / "nautilus_binance_spot_trades_BTCUSDT.json"
    if not path.exists():
        pytest.skip("real samples absent")
    rows = json.loads(path.read_text())
    text = "".join(f"{r['id']},{r['price']},{r['qty']},{r['quoteQty']},{r['time']},{r['isBuyerMaker']},"
                   f"{r['isBestMatch']}\n" for r in rows)
    got = read(BinanceArchive(), tmp_path, text, "spot").to_pylist()
    assert [g["trade_id"] for g in got] == [r["id"] for r in rows]
    assert [g["price"] for g in got] == [float(r["price"]) for r in rows]
    assert [g["quote_qty"] for g in got] == [float(r["quoteQty"]) for r in rows]
    assert [g["is_buyer_maker"] for g in got] == [r["isBuyerMaker"] for r in rows]
    assert [g["ts"] for g in got] == [us(r["time"]) for r in rows]


def test_real_okx_trades_reply_bilingual_header(tmp_path: Path) -> None:
    path = REAL / "nautilus_okx_trades_BTC-USDT.json"
    if not path.exists():
        pytest.skip("real samples absent")
    rows = json.loads(path.read_text())["data"]
    text = "trade_id/交易id,side/交易方向,size/数量,price/价格,created_time/成交时间\n" + "".join(
        f"{r['tradeId']},{r['side']},{r['sz']},{r['px']},{r['ts']}\n" for r in rows)
    got = read(OkxArchive(), tmp_path, text, "spot", symbol="BTC-USDT").to_pylist()
    assert [g["is_buyer_maker"] for g in got] == [r["side"] == "sell" for r in rows]
    assert [g["qty"] for g in got] == [float(r["sz"]) for r in rows]
    assert [g["trade_id"] for g in got] == [int(r["tradeId"]) for r in rows]
    assert got[0]["quote_qty"] == float(rows[0]["px"]) * float(rows[0]["sz"])


def test_okx_english_header_with_source_and_swap_ctval(tmp_path: Path) -> None:
    text = ("instrument_name,trade_id,side,price,size,created_time,source\n"
            "BTC-USDT-SWAP,10,buy,50000.0,3,1709251200000,0\n")
    got = read(OkxArchive(), tmp_path, text, "swap", symbol="BTC-USDT-SWAP").to_pylist()[0]
    assert got["qty"] == 3 * 0.01 and got["quote_qty"] == 50000.0 * (3 * 0.01) and got["is_buyer_maker"] is False
    inverse = read(OkxArchive(), tmp_path, text.replace("BTC-USDT-SWAP", "BTC-USD-SWAP"), "swap",
                   symbol="BTC-USD-SWAP").to_pylist()[0]
    assert inverse["quote_qty"] == 300.0 and inverse["qty"] == 300.0 / 50000.0
    custom = read(OkxArchive(), tmp_path, text.replace("BTC-USDT-SWAP", "PEPE-USDT-SWAP"), "swap",
                  symbol="PEPE-USDT-SWAP", params=OkxParams(ct_val={"PEPE-USDT-SWAP": 10_000_000}))
    assert custom.to_pylist()[0]["qty"] == 30_000_000


def test_header_detection_and_names() -> None:
    assert has_header("id,price,qty") and has_header("\"agg_trade_id\",price")
    assert not has_header("28457,4.0,12") and not has_header("-1,2")
    assert okx_header_names("trade_id/交易id, Side/方向 ,price") == ["trade_id", "side", "price"]


def test_malformed_rows_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="empty value"):
        read(BinanceArchive(), tmp_path, "1,2.0,,3.0,1583709433583,True,True\n", "spot")
    with pytest.raises(DataError, match="lacks column"):
        read(OkxArchive(), tmp_path, "trade_id,side,price\n1,buy,2\n", "spot", symbol="BTC-USDT")
    with pytest.raises(DataError, match="mix milliseconds and microseconds"):
        read(BinanceArchive(), tmp_path, "1,2,3,6,1583709433583,True,True\n2,2,3,6,1735689600123456,True,True\n",
             "spot")


def test_checksum_line_matches_the_published_format() -> None:
    path = REAL / "binance_public_data_2022-10-04_aggregate_trade_updates.csv"
    if not path.exists():
        pytest.skip("real samples absent")
    lines = [field for row in path.read_text().splitlines()[1:] for field in row.split(",")[1:]]
    pattern = re.compile(r"^[0-9a-f]{64}  [A-Z0-9]+-aggTrades-\d{4}-\d{2}\.zip$")
    assert lines and all(pattern.match(line) for line in lines)
    ours = checksum_line(b"hello", "BNBBTC-aggTrades-2018-01.zip").rstrip("\n")
    assert pattern.match(ours)
    assert parse_checksum(lines[0], where="t") == lines[0][:64]
    with pytest.raises(DataError):
        parse_checksum("not a checksum", where="t")


def test_retry_after_forms() -> None:
    assert parse_retry_after("3") == 3.0 and parse_retry_after(None) == 0.0 and parse_retry_after("soon") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("999999") == 300.0


def test_zip_member_name_does_not_matter(tmp_path: Path) -> None:
    path = zip_csv(tmp_path, "1,2.0,3.0,6.0,1583709433583,True,True\n", name="whatever-inside.csv")
    file = ArchiveFile("binance", "spot", "trades", "X", "daily", date(2020, 3, 8), date(2020, 3, 8), "x", None)
    assert sum(b.num_rows for b in BinanceArchive().read_trades(path, file, BinanceParams())) == 1
