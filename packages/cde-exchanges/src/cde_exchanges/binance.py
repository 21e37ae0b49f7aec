"""Binance public archive (data.binance.vision): spot, USDⓈ-M (um) and COIN-M (cm) futures.

Layout (binance-public-data README "Where do I access it" and python/utility.py)::

    data/spot/{daily|monthly}/{trades|aggTrades}/SYMBOL/SYMBOL-trades-2024-01-02.zip   (+ .CHECKSUM)
    data/futures/{um|cm}/{daily|monthly}/{trades|aggTrades}/SYMBOL/SYMBOL-aggTrades-2024-01.zip

Mapping to canonical trades (columns per the README tables, see :mod:`cde_exchanges.csv_formats`):

- trades: ``trade_id`` = id; spot/um ``quote_qty`` = the file's quoteQty.
- COIN-M trades: the file's ``qty`` is in contracts and ``baseQty`` in coin. Canonical ``qty`` = baseQty
  (coin), ``quote_qty`` = contracts × contract size (the USD notional; 100 USD for BTCUSD contracts,
  10 USD for the others, per Binance's COIN-M contract specifications / exchangeInfo ``contractSize``).
- aggTrades: ``trade_id`` = the aggregate trade id (first/last trade ids are not kept), ``quote_qty`` =
  price × quantity; for COIN-M the quantity is contracts, so ``quote_qty`` = contracts × contract size and
  ``qty`` = quote_qty / price.
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
from cde_core.schemas import TRADES_SCHEMA
from cde_exchanges.archive_exchange import ArchiveExchange
from cde_exchanges.archive_files import ArchiveFile
from cde_exchanges.csv_formats import (
    BINANCE_CM_TRADES,
    BINANCE_FUTURES_AGG,
    BINANCE_SPOT_AGG,
    BINANCE_SPOT_TRADES,
    BINANCE_UM_TRADES,
    CsvLayout,
    first_line,
    has_header,
    require_complete,
    stream_positional,
)
from cde_exchanges.timestamp_decoder import TimestampDecoder
from cde_exchanges.zip_member import open_member, open_zip, read_head, single_member

BTC_CONTRACT_USD = 100.0
ALT_CONTRACT_USD = 10.0


class BinanceParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contract_size: dict[str, float] = Field(
        default_factory=dict,
        description="COIN-M contract size in USD per symbol; default 100 for BTCUSD*, 10 for the others")


def cm_contract_size(symbol: str, params: BinanceParams) -> float:
    if symbol in params.contract_size:
        return params.contract_size[symbol]
    return BTC_CONTRACT_USD if symbol.startswith("BTCUSD") else ALT_CONTRACT_USD


def layout_for(market: str, kind: str) -> CsvLayout:
    if kind == "aggTrades":
        return BINANCE_SPOT_AGG if market == "spot" else BINANCE_FUTURES_AGG
    return {"spot": BINANCE_SPOT_TRADES, "um": BINANCE_UM_TRADES, "cm": BINANCE_CM_TRADES}[market]


class BinanceArchive(ArchiveExchange):
    name = "binance"
    summary = "Binance public archive: spot, USDⓈ-M (um) and COIN-M (cm) trades and aggTrades"
    Params: ClassVar[type[BaseModel]] = BinanceParams
    markets = ("spot", "um", "cm")
    kinds: ClassVar[dict[str, tuple[str, ...]]] = {m: ("trades", "aggTrades") for m in ("spot", "um", "cm")}

    def base_url(self, config: DownloadConfig) -> str:
        return config.binance_archive_url.rstrip("/")

    @staticmethod
    def _prefix(market: str, period: str, kind: str, symbol: str) -> str:
        root = "data/spot" if market == "spot" else f"data/futures/{market}"
        return f"{root}/{period}/{kind}/{symbol}"

    def daily_file(self, market: str, kind: str, symbol: str, day: date) -> ArchiveFile:
        rel = f"{self._prefix(market, 'daily', kind, symbol)}/{symbol}-{kind}-{day.isoformat()}.zip"
        return ArchiveFile(self.name, market, kind, symbol, "daily", day, day, rel, rel + ".CHECKSUM")

    def monthly_file(self, market: str, kind: str, symbol: str, year: int, month: int) -> ArchiveFile:
        first = date(year, month, 1)
        last = date(year, month, calendar.monthrange(year, month)[1])
        rel = f"{self._prefix(market, 'monthly', kind, symbol)}/{symbol}-{kind}-{year:04d}-{month:02d}.zip"
        return ArchiveFile(self.name, market, kind, symbol, "monthly", first, last, rel, rel + ".CHECKSUM")

    def read_trades(self, zip_path: Path, file: ArchiveFile, params: BaseModel) -> Iterator[pa.RecordBatch]:
        assert isinstance(params, BinanceParams)
        layout = layout_for(file.market, file.kind)
        where = f"{file.name} in {zip_path}"
        size = cm_contract_size(file.symbol, params) if file.market == "cm" else None
        decoder = TimestampDecoder(where)
        with open_zip(zip_path) as archive:
            member = single_member(archive, where=str(zip_path))
            header = has_header(first_line(read_head(archive, member)))
            with open_member(archive, member) as source:
                for raw in stream_positional(source, layout, header=header):
                    yield to_canonical(raw, file.kind, decoder, size)


def to_canonical(raw: pa.RecordBatch, kind: str, decoder: TimestampDecoder,
                 contract_size: float | None) -> pa.RecordBatch:
    """One parsed Binance batch → canonical trades (vectorised)."""
    price = raw.column("price")
    qty = raw.column("qty")
    if kind == "aggTrades":
        trade_id = raw.column("agg_id")
        if contract_size is None:
            quote = pc.multiply(price, qty)
        else:
            quote = pc.multiply(qty, contract_size)
            qty = pc.divide(quote, price)
    else:
        trade_id = raw.column("id")
        if contract_size is None:
            quote = raw.column("quote_qty")
        else:
            quote = pc.multiply(qty, contract_size)
            qty = raw.column("base_qty")
    require_complete(raw, decoder.where)
    ts = decoder.decode(raw.column("time"))
    return pa.RecordBatch.from_arrays([ts, trade_id, price, qty, quote, raw.column("is_buyer_maker")],
                                      schema=TRADES_SCHEMA)
