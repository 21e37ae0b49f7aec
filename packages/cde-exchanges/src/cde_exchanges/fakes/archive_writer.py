"""Write canonical trades in each exchange's exact archive format: zip holding the CSV, plus the
``.CHECKSUM`` line Binance publishes (``sha256sum`` output: ``<64 hex><two spaces><zip name>``).

Used by the local archive server (tests, offline demo) and ``cde exchanges make-archive``. The formats
are the ones :mod:`cde_exchanges.formats.csv_formats` reads (sources cited there). :func:`conform` returns a
table exactly as it will read back from a given format (ms precision where the format is in ms,
COIN-M notionals in whole contracts, OKX swap sizes in contracts with 8 decimals, Binance notionals
and every spot number with at most 8 decimals, as Binance prints them); generated data passed
through it round-trips bit for bit.

Funding-rate files take a :data:`cde_core.schemas.FUNDING_SCHEMA` table instead of trades (ms
``calc_time``, header ``calc_time,funding_interval_hours,last_funding_rate``).

Klines files are derived from trades (:func:`klines_for`: the candles of the trades as they read back
from the same market's trades files), so a generated archive's klines and trades agree exactly, as
Binance's do, and ``cde lake crosscheck`` finds nothing to report until a file is damaged.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from cde_core.atomic import atomic_write_bytes
from cde_core.errors import DataError
from cde_core.schemas import FUNDING_SCHEMA, TRADES_SCHEMA, validate_table
from cde_exchanges.formats.archive_files import ArchiveFile
from cde_exchanges.formats.kline_intervals import interval_us
from cde_exchanges.lake.interval_aggregator import IntervalAggregator
from cde_exchanges.utc_days import day_start_us

OkxHeader = Literal["english", "english_source", "bilingual"]
BINANCE_SPOT_MICROS_FROM = date(2025, 1, 1)
BINANCE_FUTURES_HEADER_FROM = date(2022, 8, 11)
#: futures klines files carry a header from 2022-05 on (binance-public-data issue #246); spot klines never
BINANCE_FUTURES_KLINES_HEADER_FROM = date(2022, 5, 1)
FUNDING_HEADER = ["calc_time", "funding_interval_hours", "last_funding_rate"]
KLINES_HEADER = ["open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume", "count",
                 "taker_buy_volume", "taker_buy_quote_volume", "ignore"]
OKX_HEADERS: dict[str, list[str]] = {
    "english": ["instrument_name", "trade_id", "side", "price", "size", "created_time"],
    "english_source": ["instrument_name", "trade_id", "side", "price", "size", "created_time", "source"],
    # the bilingual variant has no instrument column
    "bilingual": ["trade_id/交易id", "side/交易方向", "size/数量", "price/价格", "created_time/成交时间"],
}


@dataclass(frozen=True)
class ArchiveVariant:
    """Which exact format to write. None picks what the exchange used on that date."""

    header: bool | None = None
    ts_unit: Literal["ms", "us"] | None = None
    okx_header: OkxHeader = "english"
    contract_size: float | None = None  # Binance COIN-M contract size (USD) or OKX ctVal
    inverse: bool = False  # OKX -USD-SWAP

    def resolved_header(self, file: ArchiveFile) -> bool:
        if self.header is not None:
            return self.header
        if file.exchange == "okx":
            return True
        if file.kind == "klines":
            return file.market != "spot" and file.first_day >= BINANCE_FUTURES_KLINES_HEADER_FROM
        return file.market != "spot" and file.first_day >= BINANCE_FUTURES_HEADER_FROM

    def resolved_unit(self, file: ArchiveFile) -> str:
        if self.ts_unit is not None:
            return self.ts_unit
        spot_micros = file.exchange == "binance" and file.market == "spot"
        return "us" if spot_micros and file.first_day >= BINANCE_SPOT_MICROS_FROM else "ms"


def _epoch(ts: pa.ChunkedArray | pa.Array, unit: str) -> pa.Array:
    values = pc.cast(ts, pa.int64())
    return pc.divide(values, 1000) if unit == "ms" else values  # floor for the non-negative epochs


def _ms_precision(ts: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Timestamps as a millisecond file holds them (truncated)."""
    return pc.cast(pc.multiply(pc.divide(pc.cast(ts, pa.int64()), 1000), 1000), pa.timestamp("us", tz="UTC"))


def _decimals(values: np.ndarray, places: int = 8) -> np.ndarray:
    """Round to ``places`` decimals such that the printed value parses back to the same double."""
    scale = 10.0 ** places
    return np.rint(values * scale) / scale


def _fixed_8(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Floats as decimals with exactly 8 places, so the CSV shows ``42283.58000000`` (the cast rounds
    to the nearest 8-decimal value, which for conformed values is the value itself)."""
    return pc.cast(values, pa.decimal128(30, 8))


def conform(trades: pa.Table, file: ArchiveFile, variant: ArchiveVariant) -> pa.Table:
    """``trades`` as they read back from ``file``'s format (see module docstring); for a klines file,
    the klines it holds (:func:`klines_for`)."""
    if file.kind == "klines":
        return klines_for(trades, file, variant)
    if file.kind == "fundingRate":
        return trades.set_column(0, "calc_time", _ms_precision(trades.column("calc_time"))).cast(FUNDING_SCHEMA)
    unit = variant.resolved_unit(file)
    ts = trades.column("ts")
    if unit == "ms":
        ts = _ms_precision(ts)
    price = trades.column("price").to_numpy()
    qty = trades.column("qty").to_numpy()
    quote = trades.column("quote_qty").to_numpy()
    if file.exchange == "binance" and file.market == "spot":  # every number printed with 8 decimals
        price, qty = _decimals(price), _decimals(qty)
    size = variant.contract_size
    if file.exchange == "binance" and file.market == "cm":
        assert size is not None, "COIN-M needs a contract size"
        contracts = np.maximum(np.rint(quote / size), 1.0)
        quote = contracts * size
        if file.kind == "aggTrades":
            qty = quote / price
    elif file.kind == "aggTrades" or file.exchange == "okx":
        if file.exchange == "okx" and size is not None:
            if variant.inverse:
                quote = _decimals(quote / size) * size
                qty = quote / price
            else:
                qty = _decimals(qty / size) * size
                quote = price * qty
        else:
            quote = price * qty
    else:  # Binance spot / USD-M trades print exact decimal notionals, never binary float noise
        quote = _decimals(quote)
    table = pa.table({"ts": ts, "trade_id": trades.column("trade_id"), "price": price, "qty": qty,
                      "quote_qty": quote, "is_buyer_maker": trades.column("is_buyer_maker")})
    return table.cast(TRADES_SCHEMA)


def csv_bytes(trades: pa.Table, file: ArchiveFile, variant: ArchiveVariant) -> bytes:
    """The CSV content of ``file`` holding ``trades`` (canonical, conformed or not; funding rates for a
    fundingRate file)."""
    if file.kind == "fundingRate":
        validate_table(trades, FUNDING_SCHEMA, where="archive writer")
        cols = [_epoch(trades.column("calc_time"), "ms"), trades.column("funding_interval_hours"),
                trades.column("funding_rate")]
        return _write(pa.table(cols, names=FUNDING_HEADER), True)
    validate_table(trades, TRADES_SCHEMA, where="archive writer")
    if file.kind == "klines":
        return _klines_csv(klines_for(trades, file, variant), file, variant)
    t = conform(trades, file, variant)
    unit = variant.resolved_unit(file)
    header = variant.resolved_header(file)
    epoch = _epoch(t.column("ts"), unit)
    ids = t.column("trade_id")
    maker = t.column("is_buyer_maker")
    if file.exchange == "okx":
        return _okx_csv(t, file, variant, epoch)
    if file.market == "spot":
        maker = pc.if_else(maker, "True", "False")  # spot files write Python-style booleans
        best = pa.array(["True"] * len(t))
        # spot files print every number with 8 decimals (README rows: 17.80180000,5.69000000,101.29224200)
        t = pa.table({name: _fixed_8(t.column(name)) if pa.types.is_floating(t.schema.field(name).type)
                      else t.column(name) for name in t.column_names})
    qty_out = t.column("qty")
    if file.market == "cm":
        qty_out = pc.divide(t.column("quote_qty"), variant.contract_size)  # contracts
    if file.kind == "aggTrades":
        names = ["agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id", "transact_time",
                 "is_buyer_maker"]
        cols = [ids, t.column("price"), qty_out, ids, ids, epoch, maker]
    else:
        third = "base_qty" if file.market == "cm" else "quote_qty"
        names = ["id", "price", "qty", third, "time", "is_buyer_maker"]
        fourth = t.column("qty") if file.market == "cm" else t.column("quote_qty")
        cols = [ids, t.column("price"), qty_out, fourth, epoch, maker]
    if file.market == "spot":
        names.append("is_best_match")
        cols.append(best)
    if file.market == "cm":
        cols[2] = pc.cast(cols[2], pa.int64())
    return _write(pa.table(cols, names=names), header)


def _okx_csv(t: pa.Table, file: ArchiveFile, variant: ArchiveVariant, epoch: pa.Array) -> bytes:
    size = t.column("qty")
    if variant.contract_size is not None:
        base = t.column("quote_qty") if variant.inverse else t.column("qty")
        size = pa.array(_decimals(base.to_numpy() / variant.contract_size))
    side = pc.if_else(t.column("is_buyer_maker"), "sell", "buy")
    by_name = {"instrument_name": pa.array([file.symbol] * len(t)), "trade_id": t.column("trade_id"),
               "side": side, "price": t.column("price"), "size": size, "created_time": epoch,
               "source": pa.array(["0"] * len(t))}
    header = OKX_HEADERS[variant.okx_header]
    cols = [by_name[h.split("/", 1)[0]] for h in header]
    body = _write(pa.table(cols, names=[f"c{i}" for i in range(len(cols))]), False)
    return (",".join(header) + "\n").encode() + body


def klines_for(trades: pa.Table, file: ArchiveFile, variant: ArchiveVariant) -> pa.Table:
    """The klines of a klines ``file`` for ``trades``, exactly as they read back: candles of the trades
    as the market's trades files hold them, ``close_time`` the interval's last ms (µs in µs files)."""
    interval = interval_us(file.interval, file.market)
    as_traded = conform(trades, replace(file, kind="trades", interval=None), variant)
    close_offset = 1 if variant.resolved_unit(file) == "us" else 1000
    ts = pc.cast(as_traded.column("ts"), pa.int64()).to_numpy()
    tables = []
    day = file.first_day
    while day <= file.last_day:
        start = day_start_us(day)
        aggregator = IntervalAggregator(start, interval)
        aggregator.add(as_traded.filter(pa.array((ts >= start) & (ts < start + 86_400_000_000))))
        tables.append(aggregator.table(close_offset_us=close_offset))
        day += timedelta(days=1)
    klines = pa.concat_tables(tables)
    # Binance sums decimals exactly and prints at most 8 places; a float sum's last-bit noise is not in files
    for name in ("volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume"):
        index = klines.schema.get_field_index(name)
        exact = pa.array(_decimals(klines.column(name).to_numpy()))
        klines = klines.set_column(index, klines.schema.field(index), exact)
    return klines


def _klines_csv(klines: pa.Table, file: ArchiveFile, variant: ArchiveVariant) -> bytes:
    """Binance's klines CSV: COIN-M puts contracts in ``volume`` / ``taker_buy_volume`` and the base asset
    in ``quote_volume`` / ``taker_buy_quote_volume`` (see :mod:`cde_exchanges.formats.binance`); spot prints every
    number with 8 decimals."""
    unit = variant.resolved_unit(file)
    volume, quote = klines.column("volume"), klines.column("quote_volume")
    buy, buy_quote = klines.column("taker_buy_volume"), klines.column("taker_buy_quote_volume")
    if file.market == "cm":
        assert variant.contract_size is not None
        size = variant.contract_size
        volume, quote = pa.array(np.rint(quote.to_numpy() / size).astype(np.int64)), volume
        buy, buy_quote = pa.array(np.rint(buy_quote.to_numpy() / size).astype(np.int64)), buy
    cols = [_epoch(klines.column("open_time"), unit), klines.column("open"), klines.column("high"),
            klines.column("low"), klines.column("close"), volume, _epoch(klines.column("close_time"), unit),
            quote, klines.column("count"), buy, buy_quote, pa.array([0] * klines.num_rows, pa.int64())]
    if file.market == "spot":  # 8 decimals everywhere, as in BPD issue #283's spot rows (34151.66000000,…)
        cols = [_fixed_8(c) if pa.types.is_floating(c.type) else c for c in cols]
    return _write(pa.table(cols, names=KLINES_HEADER), variant.resolved_header(file))


def _write(table: pa.Table, header: bool) -> bytes:
    """CSV rows, after a bare header line when asked (Arrow would quote the names; Binance does not)."""
    sink = io.BytesIO()
    if header:
        sink.write((",".join(table.column_names) + "\n").encode())
    pcsv.write_csv(table, sink, pcsv.WriteOptions(include_header=False, quoting_style="none"))
    return sink.getvalue()


def zip_bytes(csv: bytes, member: str) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr(member, csv)
    return sink.getvalue()


def checksum_line(data: bytes, zip_name: str) -> str:
    """``sha256sum`` output as Binance publishes it in ``NAME.zip.CHECKSUM``."""
    return f"{hashlib.sha256(data).hexdigest()}  {zip_name}\n"


def write_archive_file(root: Path, file: ArchiveFile, trades: pa.Table,
                       variant: ArchiveVariant | None = None) -> Path:
    """Write ``file`` (zip + CHECKSUM when the exchange publishes one) under ``root``; returns the zip."""
    variant = variant or ArchiveVariant()
    if file.market in ("cm",) and variant.contract_size is None:
        raise DataError("COIN-M archives need a contract size", where=file.name)
    data = zip_bytes(csv_bytes(trades, file, variant), file.name.removesuffix(".zip") + ".csv")
    target = root / file.rel_path
    atomic_write_bytes(target, data)
    if file.checksum_rel_path is not None:
        atomic_write_bytes(root / file.checksum_rel_path, checksum_line(data, file.name).encode())
    return target
