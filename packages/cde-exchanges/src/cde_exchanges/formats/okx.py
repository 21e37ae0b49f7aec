"""OKX public trade archive (static.okx.com): spot and perpetual swaps.

No official spec exists; the facts below come from third-party parsers (EXCHANGE_FORMATS.md):

- URL: ``cdn/okex/traderecords/trades/daily/YYYYMMDD/INSTID-trades-YYYY-MM-DD.zip``; no ``.CHECKSUM`` is
  published, so a download is verified by the zip's own CRC-32 and its sha256 is recorded.
- Monthly trades: ``cdn/okex/traderecords/trades/monthly/YYYYMM/INSTID-trades-YYYY-MM.zip`` (seen in
  third-party downloaders, e.g. a test fixture URL ``…/trades/monthly/202609/BTC-USDT-SWAP-trades-2026-09.zip``
  and a Rust client noting "the same format as the daily archives"); a missing one falls back to the
  daily files. No per-instrument monthly aggtrades file is known, so aggTrades are fetched day by day.
- Aggregated trades: ``cdn/okex/traderecords/aggtrades/daily/YYYYMMDD/INSTID-aggtrades-YYYY-MM-DD.zip``;
  a third-party guide (terrylica/data-source-manager, ``docs/api/okx_data_download_guide.md``) lists the
  same columns as trades (``trade_id, side, size, price, created_time``), so they are mapped by the same
  English header names; ``trade_id`` is then the aggregate's id. They go to the lake's ``aggtrades`` tree.
- A header row always exists, but its text varies (``instrument_name,trade_id,side,price,size,
  created_time`` [, ``source``] or bilingual ``trade_id/交易id`` …): columns are mapped by the English
  name before any ``/``.
- ``side`` is the taker side, so ``is_buyer_maker = (side == "sell")``; ``created_time`` is ms.
- SWAP ``size`` is in contracts: for linear swaps (``…-USDT-SWAP``) ``qty`` = size × ctVal (coin) and
  ``quote_qty`` = price × qty; for inverse swaps (``…-USD-SWAP``, ctVal in USD) ``quote_qty`` = size ×
  ctVal and ``qty`` = quote_qty / price. ctVal from ``GET /api/v5/public/instruments?instType=SWAP``.
- Daily files are reported (unconfirmed) to be cut on the UTC+8 day, so the file of the next day is
  always fetched too (``spill_days``) and rows are assigned to UTC days by their own timestamp: correct
  either way, at the price of one extra file per run. A UTC day is written only once the next day's
  file was read too; without it the day is incomplete and not written (``trade_extractor``).
"""

from __future__ import annotations

import calendar
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
from cde_exchanges.formats.archive_exchange import ArchiveExchange, ContractSize
from cde_exchanges.formats.archive_files import ArchiveFile
from cde_exchanges.formats.csv_formats import (
    OKX_EPOCHS,
    OKX_TRADE_RULES,
    OKX_TRADE_TYPES,
    first_line,
    okx_header_names,
    stream_named,
)
from cde_exchanges.formats.timestamp_decoder import TimestampDecoder
from cde_exchanges.formats.zip_member import open_member, open_zip, read_head, single_member

#: contract values from OKX /api/v5/public/instruments (instType=SWAP), for the common instruments
KNOWN_CT_VAL: dict[str, float] = {
    "BTC-USDT-SWAP": 0.01, "ETH-USDT-SWAP": 0.1, "SOL-USDT-SWAP": 1.0, "XRP-USDT-SWAP": 100.0,
    "DOGE-USDT-SWAP": 1000.0, "BTC-USD-SWAP": 100.0, "ETH-USD-SWAP": 10.0,
}


#: archive folder (and file-name part) of each kind
FOLDERS: dict[str, str] = {"trades": "trades", "aggTrades": "aggtrades"}


class OkxParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ct_val: dict[str, ContractSize] = Field(
        default_factory=dict, description="contract value per swap instrument (overrides the built-in table)")


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
    summary = "OKX public trade archive: spot and perpetual swaps (trades, aggTrades)"
    Params: ClassVar[type[BaseModel]] = OkxParams
    markets = ("spot", "swap")
    kinds: ClassVar[dict[str, tuple[str, ...]]] = {"spot": ("trades", "aggTrades"), "swap": ("trades", "aggTrades")}
    spill_days = 1

    def base_url(self, config: DownloadConfig) -> str:
        return config.okx_archive_url.rstrip("/")

    def daily_file(self, market: str, kind: str, symbol: str, day: date,
                   interval: str | None = None) -> ArchiveFile:
        folder = FOLDERS[kind]
        rel = f"cdn/okex/traderecords/{folder}/daily/{day.strftime('%Y%m%d')}/{symbol}-{folder}-{day.isoformat()}.zip"
        return ArchiveFile(self.name, market, kind, symbol, "daily", day, day, rel, None)

    def monthly_file(self, market: str, kind: str, symbol: str, year: int, month: int,
                     interval: str | None = None) -> ArchiveFile | None:
        if kind != "trades":
            return None
        first = date(year, month, 1)
        last = date(year, month, calendar.monthrange(year, month)[1])
        rel = f"cdn/okex/traderecords/trades/monthly/{year:04d}{month:02d}/{symbol}-trades-{year:04d}-{month:02d}.zip"
        return ArchiveFile(self.name, market, kind, symbol, "monthly", first, last, rel, None)

    def read_trades(self, zip_path: Path, file: ArchiveFile, params: BaseModel) -> Iterator[pa.RecordBatch]:
        assert isinstance(params, OkxParams)
        where = f"{file.name} in {zip_path}"
        ct_val = contract_value(file.symbol, params) if file.market == "swap" else None
        decoder = TimestampDecoder(where)
        with open_zip(zip_path) as archive:
            member = single_member(archive, where=str(zip_path))
            names = okx_header_names(first_line(read_head(archive, member)))
            with open_member(archive, member) as source:
                for raw in stream_named(source, names, OKX_TRADE_TYPES, where=where, rules=OKX_TRADE_RULES,
                                             epochs=OKX_EPOCHS):
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
