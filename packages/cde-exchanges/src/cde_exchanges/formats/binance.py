"""Binance public archive (data.binance.vision): spot, USDⓈ-M (um) and COIN-M (cm) futures.

Layout (binance-public-data README "Where do I access it" and python/utility.py)::

    data/spot/{daily|monthly}/{trades|aggTrades}/SYMBOL/SYMBOL-trades-2024-01-02.zip   (+ .CHECKSUM)
    data/futures/{um|cm}/{daily|monthly}/{trades|aggTrades}/SYMBOL/SYMBOL-aggTrades-2024-01.zip
    data/{spot|futures/um|futures/cm}/{daily|monthly}/klines/SYMBOL/1m/SYMBOL-1m-2024-01-02.zip
    data/futures/{um|cm}/monthly/fundingRate/SYMBOL/SYMBOL-fundingRate-2024-01.zip      (monthly only)

Mapping to canonical trades (columns per the README tables, see :mod:`cde_exchanges.formats.csv_formats`):

- trades: ``trade_id`` = id; spot/um ``quote_qty`` = the file's quoteQty.
- COIN-M trades: the file's ``qty`` is in contracts and ``baseQty`` in coin. Canonical ``qty`` = baseQty
  (coin), ``quote_qty`` = contracts × contract size (the USD notional; 100 USD for BTCUSD contracts,
  10 USD for the others, per Binance's COIN-M contract specifications / exchangeInfo ``contractSize``).
- aggTrades: ``trade_id`` = the aggregate trade id (first/last trade ids are not kept), ``quote_qty`` =
  price × quantity; for COIN-M the quantity is contracts, so ``quote_qty`` = contracts × contract size and
  ``qty`` = quote_qty / price.
- klines (README "Klines" tables; issue #283 shows real rows of spot and COIN-M files): spot and USD-M
  columns are ``open_time, open, high, low, close, volume (base), close_time, quote_volume, count,
  taker_buy_volume (base), taker_buy_quote_volume, ignore``. COIN-M's README names the same positions
  ``Volume`` (contracts), ``Base asset volume``, ``Taker buy volume`` (contracts) and ``Taker buy base
  asset volume`` (issue #283: ``409953`` contracts next to ``1202.97118037`` BTC). The lake keeps the
  trades' meaning: ``volume`` = base asset volume, ``quote_volume`` = contracts × contract size (USD),
  the taker-buy pair likewise, so COIN-M klines compare with COIN-M trades directly.
- fundingRate (perpetuals, um and cm; monthly files only, none for the running month): header
  ``calc_time,funding_interval_hours,last_funding_rate``, ``calc_time`` in ms (BPD ``python/enums.py``
  lists ``fundingRate`` among the futures monthly data types; header and units as seen in the
  downloaded files quoted by third-party ingesters, e.g. ``1780272000001,8,0.00005703``). A settlement's
  ``calc_time`` may be a few ms after the hour. Lake column ``funding_rate`` = ``last_funding_rate``.
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
from cde_core.schemas import FUNDING_SCHEMA, KLINES_SCHEMA, TRADES_SCHEMA
from cde_exchanges.formats.archive_exchange import ArchiveExchange, ContractSize
from cde_exchanges.formats.archive_files import ArchiveFile
from cde_exchanges.formats.csv_formats import (
    BINANCE_CM_TRADES,
    BINANCE_FUNDING,
    BINANCE_FUTURES_AGG,
    BINANCE_KLINES,
    BINANCE_SPOT_AGG,
    BINANCE_SPOT_TRADES,
    BINANCE_UM_TRADES,
    CsvLayout,
    first_line,
    has_header,
    stream_positional,
)
from cde_exchanges.formats.kline_intervals import interval_us
from cde_exchanges.formats.row_checks import RowCheck, kline_row_check
from cde_exchanges.formats.timestamp_decoder import TimestampDecoder
from cde_exchanges.formats.zip_member import open_member, open_zip, read_head, single_member

BINANCE_ARCHIVE_URL = "https://data.binance.vision"
#: the S3 bucket behind data.binance.vision, path style: its objects and its ListObjects listing
BINANCE_BUCKET_URL = "https://s3-ap-northeast-1.amazonaws.com/data.binance.vision"
BTC_CONTRACT_USD = 100.0
ALT_CONTRACT_USD = 10.0


class BinanceParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contract_size: dict[str, ContractSize] = Field(
        default_factory=dict,
        description="COIN-M contract size in USD per symbol; default 100 for BTCUSD*, 10 for the others")


def cm_contract_size(symbol: str, params: BinanceParams) -> float:
    if symbol in params.contract_size:
        return params.contract_size[symbol]
    return BTC_CONTRACT_USD if symbol.startswith("BTCUSD") else ALT_CONTRACT_USD


def layout_for(market: str, kind: str) -> CsvLayout:
    if kind == "klines":
        return BINANCE_KLINES
    if kind == "fundingRate":
        return BINANCE_FUNDING
    if kind == "aggTrades":
        return BINANCE_SPOT_AGG if market == "spot" else BINANCE_FUTURES_AGG
    return {"spot": BINANCE_SPOT_TRADES, "um": BINANCE_UM_TRADES, "cm": BINANCE_CM_TRADES}[market]


class BinanceArchive(ArchiveExchange):
    name = "binance"
    summary = ("Binance public archive: spot, USDⓈ-M (um) and COIN-M (cm) trades, aggTrades and klines; "
               "funding rates of perpetuals")
    Params: ClassVar[type[BaseModel]] = BinanceParams
    markets = ("spot", "um", "cm")
    kinds: ClassVar[dict[str, tuple[str, ...]]] = {
        "spot": ("trades", "aggTrades", "klines"),
        "um": ("trades", "aggTrades", "klines", "fundingRate"),
        "cm": ("trades", "aggTrades", "klines", "fundingRate"),
    }

    def has_daily_files(self, kind: str) -> bool:
        return kind != "fundingRate"

    def base_url(self, config: DownloadConfig) -> str:
        return config.binance_archive_url.rstrip("/")

    def listing_url(self, config: DownloadConfig) -> str | None:
        """data.binance.vision is served from an S3 bucket that lists its keys (what the site's own
        folder pages use); another base URL (a mirror, the local archive server) is asked to list itself
        the same way, and a base URL that cannot is asked file by file."""
        base = self.base_url(config)
        return BINANCE_BUCKET_URL if base == BINANCE_ARCHIVE_URL else base

    @staticmethod
    def _stem(market: str, period: str, kind: str, symbol: str, interval: str | None) -> str:
        """``<folder>/<file name without date>``: klines add the interval folder and name it in place
        of the kind (``BTCUSDT/1m/BTCUSDT-1m-…``)."""
        root = "data/spot" if market == "spot" else f"data/futures/{market}"
        if kind == "klines":
            interval_us(interval, market)  # a one-line error for an interval the archive does not have
            return f"{root}/{period}/klines/{symbol}/{interval}/{symbol}-{interval}"
        return f"{root}/{period}/{kind}/{symbol}/{symbol}-{kind}"

    def daily_file(self, market: str, kind: str, symbol: str, day: date,
                   interval: str | None = None) -> ArchiveFile:
        rel = f"{self._stem(market, 'daily', kind, symbol, interval)}-{day.isoformat()}.zip"
        return ArchiveFile(self.name, market, kind, symbol, "daily", day, day, rel, rel + ".CHECKSUM",
                           interval if kind == "klines" else None)

    def monthly_file(self, market: str, kind: str, symbol: str, year: int, month: int,
                     interval: str | None = None) -> ArchiveFile:
        first = date(year, month, 1)
        last = date(year, month, calendar.monthrange(year, month)[1])
        rel = f"{self._stem(market, 'monthly', kind, symbol, interval)}-{year:04d}-{month:02d}.zip"
        return ArchiveFile(self.name, market, kind, symbol, "monthly", first, last, rel, rel + ".CHECKSUM",
                           interval if kind == "klines" else None)

    def read_trades(self, zip_path: Path, file: ArchiveFile, params: BaseModel) -> Iterator[pa.RecordBatch]:
        assert isinstance(params, BinanceParams)
        size = cm_contract_size(file.symbol, params) if file.market == "cm" else None
        decoder = TimestampDecoder(f"{file.name} in {zip_path}")
        for raw in positional_rows(zip_path, layout_for(file.market, file.kind), where=decoder.where):
            yield to_canonical(raw, file.kind, decoder, size)

    def read_records(self, zip_path: Path, file: ArchiveFile, params: BaseModel) -> Iterator[pa.RecordBatch]:
        """Klines (:data:`KLINES_SCHEMA`) or funding rates (:data:`FUNDING_SCHEMA`) of one zip, header or
        not, ms or µs, as the file is."""
        assert isinstance(params, BinanceParams)
        where = f"{file.name} in {zip_path}"
        size = cm_contract_size(file.symbol, params) if file.market == "cm" else None
        decoder = TimestampDecoder(where)
        check = (kline_row_check(file.interval, interval_us(file.interval, file.market))
                 if file.kind == "klines" and file.interval is not None else None)
        for raw in positional_rows(zip_path, layout_for(file.market, file.kind), where=where, row_check=check):
            if file.kind == "fundingRate":
                yield funding_to_canonical(raw, decoder)
            else:
                yield klines_to_canonical(raw, decoder, size)


def positional_rows(zip_path: Path, layout: CsvLayout, *, where: str,
                    row_check: RowCheck | None = None) -> Iterator[pa.RecordBatch]:
    """The single CSV of a Binance zip parsed by position; a header row, where there is one, is skipped;
    errors name ``where`` (the archive file) and the line."""
    with open_zip(zip_path) as archive:
        member = single_member(archive, where=str(zip_path))
        header = has_header(first_line(read_head(archive, member)))
        with open_member(archive, member) as source:
            yield from stream_positional(source, layout, header=header, where=where, row_check=row_check)


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
    ts = decoder.decode(raw.column("time"))
    return pa.RecordBatch.from_arrays([ts, trade_id, price, qty, quote, raw.column("is_buyer_maker")],
                                      schema=TRADES_SCHEMA)


def klines_to_canonical(raw: pa.RecordBatch, decoder: TimestampDecoder,
                        contract_size: float | None) -> pa.RecordBatch:
    """One parsed klines batch → :data:`KLINES_SCHEMA` (COIN-M volumes mapped as the module says)."""
    volume, quote = raw.column("volume"), raw.column("quote_volume")
    buy, buy_quote = raw.column("taker_buy_volume"), raw.column("taker_buy_quote_volume")
    if contract_size is not None:  # COIN-M: contracts and base asset in these positions
        volume, quote = quote, pc.multiply(volume, contract_size)
        buy, buy_quote = buy_quote, pc.multiply(buy, contract_size)
    return pa.RecordBatch.from_arrays(
        [decoder.decode(raw.column("open_time")), decoder.decode(raw.column("close_time")), raw.column("open"),
         raw.column("high"), raw.column("low"), raw.column("close"), volume, quote, raw.column("count"), buy,
         buy_quote], schema=KLINES_SCHEMA)


def funding_to_canonical(raw: pa.RecordBatch, decoder: TimestampDecoder) -> pa.RecordBatch:
    """One parsed fundingRate batch → :data:`FUNDING_SCHEMA`."""
    return pa.RecordBatch.from_arrays(
        [decoder.decode(raw.column("calc_time")), raw.column("funding_interval_hours"),
         raw.column("last_funding_rate")], schema=FUNDING_SCHEMA)
