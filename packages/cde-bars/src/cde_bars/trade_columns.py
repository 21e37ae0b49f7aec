"""Canonical trades (Arrow) → the numpy arrays the kernels read, zero-copy where Arrow allows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from cde_core.errors import SchemaError
from cde_core.schemas import TRADES_SCHEMA, TS_TYPE


@dataclass(slots=True)
class TradeColumns:
    """One batch of trades as contiguous numpy arrays (ts in µs since the epoch, maker as 0/1).

    Slotted, not frozen: a frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__``, a measurable part of ``update()``'s per-batch cost."""

    ts: np.ndarray
    trade_id: np.ndarray
    price: np.ndarray
    qty: np.ndarray
    quote: np.ndarray
    maker: np.ndarray

    def __len__(self) -> int:
        return int(self.price.shape[0])


def _column(batch: pa.RecordBatch, name: str, where: str) -> pa.Array:
    index = batch.schema.get_field_index(name)
    if index < 0:
        raise SchemaError(f"trades lack column '{name}'", where=where,
                          hint=f"expected columns: {', '.join(TRADES_SCHEMA.names)}")
    array = batch.column(index)
    if array.null_count:
        raise SchemaError(f"column '{name}' has {array.null_count} null value(s)", where=where,
                          hint="drop or fill them before building bars")
    array = cast_trade_column(array, name, where=where)
    return array


#: units a caller may name for plain-integer epoch timestamps (``build_bars(..., ts_unit="ms")``)
TS_UNITS = ("s", "ms", "us", "ns")


def cast_trade_column(array: pa.Array | pa.ChunkedArray, name: str, *, where: str,
                      ts_unit: str | None = None) -> pa.Array | pa.ChunkedArray:
    """``array`` as the canonical type of trades column ``name``, or a :class:`SchemaError`.

    Timestamps of any unit / zone become ``timestamp[us, UTC]`` (naive ones are taken as UTC, finer
    units are truncated to µs). Plain integers are refused for ``ts`` unless ``ts_unit`` names their
    unit: an epoch in milliseconds read as microseconds lands in 1970 and nothing else would notice.
    """
    expected = TS_TYPE if name == "ts" else TRADES_SCHEMA.field(name).type
    if array.type == expected:
        return array
    if name == "ts" and not pa.types.is_timestamp(array.type):
        if ts_unit is None or not pa.types.is_integer(array.type):
            kind = "plain integers" if pa.types.is_integer(array.type) else f"values of type {array.type}"
            raise SchemaError(f"column 'ts' holds {kind}, not timestamps", where=where,
                              hint="name the epoch unit (build_bars(..., ts_unit='ms'), one of "
                                   f"{', '.join(TS_UNITS)}) or convert first, e.g. "
                                   "pd.to_datetime(df.ts, unit='ms', utc=True)")
        if ts_unit not in TS_UNITS:
            raise SchemaError(f"ts_unit '{ts_unit}' is not one of {', '.join(TS_UNITS)}", where=where)
        array = array.cast(pa.int64()).cast(pa.timestamp(ts_unit, tz="UTC"))
    if name == "is_buyer_maker" and (pa.types.is_integer(array.type) or pa.types.is_floating(array.type)):
        _check_zero_one(array, where)  # a cast would read any non-zero (a side coded 1/-1, 1/2) as True
    try:
        if name == "ts":
            return array.cast(expected, safe=False)  # ns → µs truncates; any zone is the same instant
        return array.cast(expected)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise SchemaError(f"column '{name}' has type {array.type}, expected {expected}", where=where,
                          hint=f"cast it to {expected} first") from None


def _check_zero_one(array: pa.Array | pa.ChunkedArray, where: str) -> None:
    """A numeric ``is_buyer_maker`` must hold 0 and 1 only, or it is a :class:`SchemaError` naming the
    first other value and its row."""
    import pyarrow.compute as pc

    values = array.to_numpy(zero_copy_only=False) if isinstance(array, pa.Array) else \
        pc.cast(array, pa.float64()).to_numpy()
    values = np.asarray(values, dtype=np.float64)
    bad = ~np.isnan(values) & (values != 0) & (values != 1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise SchemaError(f"column 'is_buyer_maker' holds {values[row]:g} at row {row}; it must be "
                          "true/false (or 1/0)", where=where, hint="map your side column first, e.g. "
                          "is_buyer_maker = (side == 'sell') when side names the taker's side")


def trade_columns(batch: pa.RecordBatch, *, where: str = "trades") -> TradeColumns:
    """Arrays of one record batch (single chunk, so numeric columns are zero-copy views)."""
    if batch.schema.equals(TRADES_SCHEMA):  # the common case, a lake batch: no per-column lookups
        ts, trade_id, price, qty, quote, maker = batch.columns
        if ts.null_count or trade_id.null_count or price.null_count or qty.null_count or quote.null_count \
                or maker.null_count:
            for name in TRADES_SCHEMA.names:
                _column(batch, name, where)  # raises the null-value error
        return TradeColumns(ts=ts.to_numpy().view(np.int64), trade_id=trade_id.to_numpy(),
                            price=price.to_numpy(), qty=qty.to_numpy(), quote=quote.to_numpy(),
                            maker=bool_bytes(maker))
    ts = _column(batch, "ts", where).to_numpy(zero_copy_only=False).view(np.int64)
    maker = bool_bytes(_column(batch, "is_buyer_maker", where))
    return TradeColumns(
        ts=ts,
        trade_id=_column(batch, "trade_id", where).to_numpy(zero_copy_only=False),
        price=_column(batch, "price", where).to_numpy(zero_copy_only=False),
        qty=_column(batch, "qty", where).to_numpy(zero_copy_only=False),
        quote=_column(batch, "quote_qty", where).to_numpy(zero_copy_only=False),
        maker=maker,
    )


def bool_bytes(array: pa.Array) -> np.ndarray:
    """A boolean Arrow array as 0/1 bytes, unpacked from its bitmap with numpy (several times faster
    than ``to_numpy``, which goes through Python-level bool conversion rules)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    bitmap = array.buffers()[1]
    if bitmap is None:  # pragma: no cover - arrays of length 0
        return np.zeros(len(array), dtype=np.uint8)
    # A slice (``Table.to_batches(max_chunksize=…)``, a reader's batch) shares its parent's whole
    # bitmap: unpack only the bytes that hold this slice's bits, or every batch costs the parent's size.
    first_byte = array.offset // 8
    last_byte = (array.offset + len(array) + 7) // 8
    packed = np.frombuffer(bitmap, dtype=np.uint8, count=last_byte - first_byte, offset=first_byte)
    skip = array.offset - 8 * first_byte
    return np.unpackbits(packed, bitorder="little")[skip:skip + len(array)]

