"""Canonical trades (Arrow) → the numpy arrays the kernels read, zero-copy where Arrow allows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from numba import njit

from cde_core.errors import DataError, SchemaError
from cde_core.schemas import TRADES_SCHEMA, TS_TYPE

NUMBA_CACHE_INPUTS = "0f34b254479fd4d7"  # sha256 of the cde code it imports; tools/numba_cache_stamps.py


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
    expected = TRADES_SCHEMA.field(name).type
    if array.type != expected:
        try:
            array = array.cast(TS_TYPE if name == "ts" else expected)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise SchemaError(f"column '{name}' has type {array.type}, expected {expected}", where=where,
                              hint="cast it first") from exc
    return array


def trade_columns(batch: pa.RecordBatch, *, where: str = "trades") -> TradeColumns:
    """Arrays of one record batch (single chunk, so numeric columns are zero-copy views)."""
    if batch.schema.equals(TRADES_SCHEMA):  # the common case, a lake batch: no per-column lookups
        ts, trade_id, price, qty, quote, maker = batch.columns
        for name, array in zip(TRADES_SCHEMA.names, (ts, trade_id, price, qty, quote, maker), strict=True):
            if array.null_count:
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


@njit(cache=True, nogil=True)
def first_out_of_order(ts: np.ndarray, previous: int) -> int:
    """Index of the first timestamp earlier than its predecessor (``previous`` before index 0), or -1.

    The common case (all in order) runs as a branch-free reduction that LLVM vectorises; only a
    stream with a violation pays for the search."""
    n = ts.shape[0]
    if n == 0:
        return -1
    disorder = ts[0] < previous
    for i in range(1, n):
        disorder |= ts[i] < ts[i - 1]
    if not disorder:
        return -1
    last = previous
    for i in range(n):
        if ts[i] < last:
            return i
        last = ts[i]
    return -1  # pragma: no cover - unreachable


def check_order(columns: TradeColumns, previous_ts: int | None, *, where: str) -> None:
    """Bars need trades in time order, within a batch and across batches of one stream."""
    bad = first_out_of_order(columns.ts, np.iinfo(np.int64).min if previous_ts is None else previous_ts)
    if bad >= 0:
        raise DataError(f"trades are not in time order at row {bad} (trade id {columns.trade_id[bad]})",
                        where=where, hint="sort the trades by ts (and trade id) before building bars")
