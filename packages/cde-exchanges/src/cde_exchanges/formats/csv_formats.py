"""The exact CSV layouts inside the exchanges' archive zips, and how to stream them with pyarrow.

Sources (see also /work/shared/EXCHANGE_FORMATS.md):

- Binance: github.com/binance/binance-public-data README ("Trades", "AggTrades" tables for SPOT, USD-M
  and COIN-M) and issues #177 / #278 (futures files carry a header row from 2022-08-11 on, older ones
  none), #386 / #387 (spot timestamps in microseconds from 2025-01-01). Binance columns are positional
  and stable, so they are read by position whatever the header text says.
- OKX: no official spec; third-party parsers show a header row ``instrument_name,trade_id,side,price,
  size,created_time`` (sometimes with ``source``) or bilingual names such as ``trade_id/交易id``.
  Columns are therefore mapped by the English name before any ``/``, never by position.

A header is detected from the first row (a first field that is not an integer), never from the date.
Timestamps are detected by magnitude: ms ≈ 1.7e12, µs ≈ 1.7e15.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from cde_core.errors import DataError
from cde_exchanges.formats.csv_checks import (
    BAD_FILE_HINT,
    MICROS_THRESHOLD,
    NANOS_THRESHOLD,
    SECONDS_THRESHOLD,
    EpochUnits,
    PiecePlace,
    ValueRule,
    check_batch,
)
from cde_exchanges.formats.row_checks import RowCheck
from cde_exchanges.formats.zip_member import counted_line_chunks, in_background

TRUE_VALUES = ["true", "True", "TRUE"]
FALSE_VALUES = ["false", "False", "FALSE"]
CHUNK_SIZE = 1 << 20  # bytes of CSV read and parsed at a time; resident memory is a small multiple of it
BLOCK_SIZE = CHUNK_SIZE  # one block per piece: threads within one small piece measured no faster
USE_THREADS = True


def extraction_pool() -> pa.MemoryPool:
    """The Arrow memory pool for parsed and written trades: the system allocator.

    Why not Arrow's default (mimalloc): its per-thread caches keep the short-lived blocks of the
    parse threads and the Parquet writer resident, which measured ~30 MB more peak RSS for one
    extraction at the same speed. Passing the pool per call, rather than ``pa.set_memory_pool``,
    leaves the rest of the process (extractions run in threads next to other work) untouched.
    """
    return pa.system_memory_pool()


@dataclass(frozen=True)
class CsvLayout:
    """Positional column names and the types we read them with (only ``used`` columns are parsed), and
    the rule each checked numeric column's values must satisfy (:mod:`cde_exchanges.formats.csv_checks`)."""

    name: str
    columns: tuple[str, ...]
    types: dict[str, pa.DataType]
    rules: dict[str, ValueRule] = field(default_factory=dict)
    #: epoch columns: one unit (ms or µs) per file, never seconds
    epochs: tuple[str, ...] = ()

    @property
    def used(self) -> list[str]:
        return list(self.types)


_I64, _F64, _BOOL = pa.int64(), pa.float64(), pa.bool_()
_TS_MS, _TS_US = pa.timestamp("ms", tz="UTC"), pa.timestamp("us", tz="UTC")
#: a trade's price is a positive finite number, its quantities finite and >= 0 (exchanges print zero)
_TRADE_RULES: dict[str, ValueRule] = {"price": "positive", "qty": "non_negative", "quote_qty": "non_negative"}

# Binance spot trades: id, price, qty, quoteQty, time, isBuyerMaker, isBestMatch (no header)
BINANCE_SPOT_TRADES = CsvLayout("binance-spot-trades",
                                ("id", "price", "qty", "quote_qty", "time", "is_buyer_maker",
                                 "is_best_match"),
                                {"id": _I64, "price": _F64, "qty": _F64, "quote_qty": _F64, "time": _I64,
                                 "is_buyer_maker": _BOOL}, _TRADE_RULES, ("time",))
# USD-M trades: id,price,qty,quote_qty,time,is_buyer_maker (header from 2022-08-11)
BINANCE_UM_TRADES = CsvLayout("binance-um-trades",
                              ("id", "price", "qty", "quote_qty", "time", "is_buyer_maker"),
                              {"id": _I64, "price": _F64, "qty": _F64, "quote_qty": _F64, "time": _I64,
                               "is_buyer_maker": _BOOL}, _TRADE_RULES, ("time",))
# COIN-M trades: id, price, qty (contracts), baseQty, time, isBuyerMaker
BINANCE_CM_TRADES = CsvLayout("binance-cm-trades",
                              ("id", "price", "qty", "base_qty", "time", "is_buyer_maker"),
                              {"id": _I64, "price": _F64, "qty": _F64, "base_qty": _F64, "time": _I64,
                               "is_buyer_maker": _BOOL}, {**_TRADE_RULES, "base_qty": "non_negative"}, ("time",))
# spot aggTrades: aggTradeId, price, quantity, firstTradeId, lastTradeId, timestamp, isBuyerMaker, isBestMatch
BINANCE_SPOT_AGG = CsvLayout("binance-spot-aggTrades",
                             ("agg_id", "price", "qty", "first_id", "last_id", "time", "is_buyer_maker",
                              "is_best_match"),
                             {"agg_id": _I64, "price": _F64, "qty": _F64, "time": _I64,
                              "is_buyer_maker": _BOOL}, _TRADE_RULES, ("time",))
# futures aggTrades: agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker
BINANCE_FUTURES_AGG = CsvLayout("binance-futures-aggTrades",
                                ("agg_id", "price", "qty", "first_id", "last_id", "time", "is_buyer_maker"),
                                {"agg_id": _I64, "price": _F64, "qty": _F64, "time": _I64,
                                 "is_buyer_maker": _BOOL}, _TRADE_RULES, ("time",))
# klines (all markets): open_time … ignore; header in futures files from ~2022-05 (issue #246)
BINANCE_KLINES = CsvLayout("binance-klines",
                           ("open_time", "open", "high", "low", "close", "volume", "close_time",
                            "quote_volume", "count", "taker_buy_volume", "taker_buy_quote_volume", "ignore"),
                           {"open_time": _I64, "open": _F64, "high": _F64, "low": _F64, "close": _F64,
                            "volume": _F64, "close_time": _I64, "quote_volume": _F64, "count": _I64,
                            "taker_buy_volume": _F64, "taker_buy_quote_volume": _F64},
                           {**dict.fromkeys(("open", "high", "low", "close"), "positive"),
                            **dict.fromkeys(("volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume",
                                             "count"), "non_negative")},
                           ("open_time", "close_time"))

# funding rates (um/cm): calc_time,funding_interval_hours,last_funding_rate (header row; calc_time in ms)
BINANCE_FUNDING = CsvLayout("binance-fundingRate", ("calc_time", "funding_interval_hours", "last_funding_rate"),
                            {"calc_time": _I64, "funding_interval_hours": _I64, "last_funding_rate": _F64},
                            {"last_funding_rate": "finite", "funding_interval_hours": "positive"}, ("calc_time",))

#: OKX trades columns we need, by their English header name
OKX_TRADE_TYPES: dict[str, pa.DataType] = {"trade_id": _I64, "side": pa.string(), "price": _F64,
                                           "size": _F64, "created_time": _I64}
OKX_TRADE_RULES: dict[str, ValueRule] = {"price": "positive", "size": "non_negative"}
OKX_EPOCHS = ("created_time",)


def first_line(raw: bytes) -> str:
    """The first line of a CSV (BOM stripped), used for header detection."""
    text = raw.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    return text.lstrip("\ufeff").rstrip("\r")


def has_header(line: str) -> bool:
    """A first row whose first field is not an integer is a header (files of both kinds exist)."""
    field = line.split(",", 1)[0].strip().strip('"')
    return not field.lstrip("-").isdigit()


def okx_header_names(line: str) -> list[str]:
    """Normalised OKX header names: the English part before any '/', stripped and lower-cased."""
    return [part.split("/", 1)[0].strip().strip('"').lower() for part in line.split(",")]


def stream_positional(source: IO[bytes], layout: CsvLayout, *, header: bool, where: str,
                      row_check: RowCheck | None = None) -> Iterator[pa.RecordBatch]:
    """Stream a headerless-or-headed positional CSV as typed record batches (only used columns); errors
    name ``where`` (the archive file) and the line."""
    return _stream(source, list(layout.columns), layout.types, skip_rows=1 if header else 0, where=where,
                   rules=layout.rules, epochs=layout.epochs, row_check=row_check)


def stream_named(source: IO[bytes], names: list[str], types: dict[str, pa.DataType], *, where: str,
                 rules: dict[str, ValueRule] | None = None, epochs: tuple[str, ...] = ()) -> Iterator[pa.RecordBatch]:
    """Stream a CSV whose header ``names`` (already normalised) are matched to ``types`` by name."""
    if names in ([], [""]):
        raise DataError("line 1: the CSV file is empty", where=where, hint=BAD_FILE_HINT)
    missing = [n for n in types if n not in names]
    if missing:
        raise DataError(f"line 1: CSV header lacks column(s) {', '.join(missing)}", where=where,
                        hint=f"header seen: {', '.join(names)}")
    # duplicate or empty names would confuse include_columns: rename the ones we do not use
    unique = [n if n in types else f"_unused_{i}" for i, n in enumerate(names)]
    return _stream(source, unique, types, skip_rows=1, where=where, rules=rules or {}, epochs=epochs)


def _stream(source: IO[bytes], names: list[str], types: dict[str, pa.DataType], *, skip_rows: int, where: str,
            rules: dict[str, ValueRule], epochs: tuple[str, ...] = (),
            row_check: RowCheck | None = None) -> Iterator[pa.RecordBatch]:
    """Parse line-aligned pieces of ``source`` one at a time, so memory holds a few pieces, never the
    file, and never Arrow's 32-block read-ahead of ``open_csv``. Every batch is checked (empty fields,
    value ``rules``, the layout's ``row_check`` relating a row's columns) and every error names the file
    line (:mod:`cde_exchanges.formats.csv_checks`, :mod:`cde_exchanges.formats.row_checks`)."""
    parse = pcsv.ParseOptions(newlines_in_values=False)
    convert = pcsv.ConvertOptions(column_types=types, include_columns=list(types), true_values=TRUE_VALUES,
                                  false_values=FALSE_VALUES, strings_can_be_null=False,
                                  quoted_strings_can_be_null=False)

    def read(piece: memoryview | bytes, skip: int) -> pa.Table:
        options = pcsv.ReadOptions(column_names=names, skip_rows=skip, block_size=BLOCK_SIZE,
                                   use_threads=USE_THREADS)
        return pcsv.read_csv(pa.BufferReader(pa.py_buffer(piece)), read_options=options,
                             parse_options=parse, convert_options=convert, memory_pool=extraction_pool())

    def parsed() -> Iterator[tuple[pa.Table, PiecePlace]]:
        """Runs in the parser thread: each piece's table and where the piece starts in the file."""
        line = 1
        for index, (piece, newlines) in enumerate(counted_line_chunks(source, CHUNK_SIZE)):
            skip = skip_rows if index == 0 else 0
            place = PiecePlace(where, line, piece, skip)
            line += newlines
            if skip and line == 1:  # a header without a line break and nothing after it: no rows
                piece = bytes(piece) + b"\n"
            try:
                table = read(piece, skip)
            except pa.ArrowInvalid as exc:
                raise place.parse_error(exc, lambda data, skip=skip: read(data, skip)) from None
            yield table, place

    # parsing runs in its own thread too (Arrow releases the GIL), overlapping the caller's Parquet writing
    units = EpochUnits(epochs)
    seen = False
    for table, place in in_background(parsed(), name="csv-parser"):
        seen = True
        # one batch per piece (a copy only if it was parsed in several blocks): fewer, larger batches
        # keep the per-batch Python work downstream (canonical columns, routing, validation) small
        offset = 0
        for batch in table.combine_chunks(memory_pool=extraction_pool()).to_batches():
            if batch.num_rows:
                check_batch(batch, rules, place, offset)
                units.check(batch, place, offset)
                if row_check is not None and (found := row_check(batch)) is not None:
                    raise DataError(f"line {place.line_of_row(offset + found[0])}: {found[1]}", where=place.where,
                                    hint=BAD_FILE_HINT)
                offset += batch.num_rows
                yield batch
    if not seen:
        raise DataError("line 1: the CSV file is empty", where=where, hint=BAD_FILE_HINT)


def epoch_to_ts(values: pa.Array, unit: str) -> pa.Array:
    """int64 epoch values in ``unit`` ("ms" or "us") → timestamp[us, UTC].

    Milliseconds become microseconds by a safe cast (×1000, an error on overflow) rather than a
    multiplication by a Python scalar, whose conversion is per batch Python work (and imports pandas).
    """
    if unit == "ms":
        values = values.cast(_TS_MS, memory_pool=extraction_pool())
    return values.cast(_TS_US, memory_pool=extraction_pool())


def detect_unit(values: pa.Array, *, where: str) -> str:
    """"us" when the timestamps are microseconds, "ms" when milliseconds (by magnitude)."""
    if len(values) == 0:
        return "ms"
    bounds = pc.min_max(values)
    low, top = bounds["min"].as_py(), bounds["max"].as_py()
    if top < SECONDS_THRESHOLD:
        raise DataError(f"timestamps look like seconds (largest {top}), not milliseconds or microseconds",
                        where=where, hint="the file's time unit changed; report it (it cannot be placed in days)")
    if top >= NANOS_THRESHOLD or low < SECONDS_THRESHOLD:
        raise DataError(f"timestamps {low} … {top} are not all milliseconds or microseconds (nanoseconds, "
                        "seconds or garbage)", where=where,
                        hint="the file's time unit changed; report it (it cannot be placed in days)")
    unit = "us" if top >= MICROS_THRESHOLD else "ms"
    if (low >= MICROS_THRESHOLD) != (unit == "us"):
        raise DataError("timestamps mix milliseconds and microseconds", where=where,
                        hint="report the file; it cannot be read unambiguously")
    return unit
