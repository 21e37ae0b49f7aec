"""OKX public trade archive (static.okx.com): spot and perpetual swaps.

No official spec exists; the facts below come from third-party parsers (EXCHANGE_FORMATS.md):

- URL: ``cdn/okex/traderecords/trades/daily/YYYYMMDD/INSTID-trades-YYYY-MM-DD.zip``; no ``.CHECKSUM`` is
  published, so a download is verified by the zip's own CRC-32 and its sha256 is recorded.
- A header row always exists, but its text varies (``instrument_name,trade_id,side,price,size,
  created_time`` [, ``source``] or bilingual ``trade_id/交易id`` …): columns are mapped by the English
  name before any ``/``.
- ``side`` is the taker side, so ``is_buyer_maker = (side == "sell")``; ``created_time`` is ms.
- SWAP ``size`` is in contracts: for linear swaps (``…-USDT-SWAP``) ``qty`` = size × ctVal (coin) and
  ``quote_qty`` = price × qty; for inverse swaps (``…-USD-SWAP``, ctVal in USD) ``quote_qty`` = size ×
  ctVal and ``qty`` = quote_qty / price. ctVal from ``GET /api/v5/public/instruments?instType=SWAP``.
- Daily files are reported (unconfirmed) to be cut on the UTC+8 day, so by default the file of the next
  day is fetched too and rows are assigned to UTC days by their own timestamp: correct either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import ClassVar

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field

from cde_core.config import DownloadConfig
from cde_core.errors import ConfigError
from cde_core.schemas import TRADES_SCHEMA
from cde_exchanges.archive_exchange import ArchiveExchange
from cde_exchanges.archive_files import ArchiveFile
from cde_exchanges.csv_formats import (
    OKX_TRADE_TYPES,
    first_line,
    okx_header_names,
    require_complete,
    stream_named,
)
from cde_exchanges.timestamp_decoder import TimestampDecoder
from cde_exchanges.zip_member import open_member, open_zip, read_head, single_member

#: contract values from OKX /api/v5/public/instruments (instType=SWAP), for the common instruments
KNOWN_CT_VAL: dict[str, float] = {
    "BTC-USDT-SWAP": 0.01, "ETH-USDT-SWAP": 0.1, "SOL-USDT-SWAP": 1.0, "XRP-USDT-SWAP": 100.0,
    "DOGE-USDT-SWAP": 1000.0, "BTC-USD-SWAP": 100.0, "ETH-USD-SWAP": 10.0,
}


class OkxParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ct_val: dict[str, float] = Field(
        default_factory=dict, description="contract value per swap instrument (overrides the built-in table)")
    fetch_next_day: bool = Field(
        True, description="also fetch the next day's file, in case files are cut on the UTC+8 day "
                          "(rows are assigned to UTC days by their own timestamp)")


def is_inverse(symbol: str) -> bool:
    return symbol.endswith("-USD-SWAP")


def contract_value(symbol: str, params: OkxParams) -> float:
    value = params.ct_val.get(symbol, KNOWN_CT_VAL.get(symbol))
    if value is None:
        raise ConfigError(f"unknown contract value (ctVal) for {symbol}", where="okx",
                          hint=f"pass it as a parameter: ct_val={{\"{symbol}\": <ctVal>}} "
                               "(from /api/v5/public/instruments)")
    return value


class OkxArchive(ArchiveExchange):
    name = "okx"
    summary = "OKX public trade archive: spot and perpetual swaps (trades)"
    Params: ClassVar[type[BaseModel]] = OkxParams
    markets = ("spot", "swap")
    kinds: ClassVar[dict[str, tuple[str, ...]]] = {"spot": ("trades",), "swap": ("trades",)}
    spill_days = 1

    def base_url(self, config: DownloadConfig) -> str:
        return config.okx_archive_url.rstrip("/")

    def daily_file(self, market: str, kind: str, symbol: str, day: date,
                   interval: str | None = None) -> ArchiveFile:
        rel = (f"cdn/okex/traderecords/trades/daily/{day.strftime('%Y%m%d')}/"
               f"{symbol}-trades-{day.isoformat()}.zip")
        return ArchiveFile(self.name, market, kind, symbol, "daily", day, day, rel, None)

    def read_trades(self, zip_path: Path, file: ArchiveFile, params: BaseModel) -> Iterator[pa.RecordBatch]:
        assert isinstance(params, OkxParams)
        where = f"{file.name} in {zip_path}"
        ct_val = contract_value(file.symbol, params) if file.market == "swap" else None
        decoder = TimestampDecoder(where)
        with open_zip(zip_path) as archive:
            member = single_member(archive, where=str(zip_path))
            names = okx_header_names(first_line(read_head(archive, member)))
            with open_member(archive, member) as source:
                for raw in stream_named(source, names, OKX_TRADE_TYPES, where=where):
                    require_complete(raw, where)
                    yield okx_to_canonical(raw, decoder, ct_val, inverse=is_inverse(file.symbol))


def okx_to_canonical(raw: pa.RecordBatch, decoder: TimestampDecoder, ct_val: float | None,
                     *, inverse: bool) -> pa.RecordBatch:
    price = raw.column("price")
    size = raw.column("size")
    if ct_val is None:
        qty, quote = size, pc.multiply(price, size)
    elif inverse:
        quote = pc.multiply(size, ct_val)
        qty = pc.divide(quote, price)
    else:
        qty = pc.multiply(size, ct_val)
        quote = pc.multiply(price, qty)
    is_buyer_maker = pc.equal(pc.utf8_lower(pc.utf8_trim_whitespace(raw.column("side"))), "sell")
    ts = decoder.decode(raw.column("created_time"))
    return pa.RecordBatch.from_arrays([ts, raw.column("trade_id"), price, qty, quote, is_buyer_maker],
                                      schema=TRADES_SCHEMA)
