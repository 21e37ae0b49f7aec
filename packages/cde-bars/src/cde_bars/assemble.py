"""Assembled bars (two 2-d blocks, one row per column) → an Arrow table in the bars schema.

:func:`cde_bars.kernels.finish.finish_call` writes each kernel call's closed bars into a
:class:`BarBlock`; every row of it is one contiguous buffer, so an Arrow column is a zero-copy view
(``pa.Array.from_buffers``) rather than a per-column ``pa.array`` conversion, and timestamps skip
the time-zone-aware cast that cost ~17 µs a column on every ``update()`` call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from cde_bars.kernels import layout
from cde_core.schemas import BARS_SCHEMA, TS_TYPE

#: extra column of time bars (after the canonical ones): start of the UTC-aligned interval
PERIOD_START = "period_start"
TIME_BARS_SCHEMA = BARS_SCHEMA.append(pa.field(PERIOD_START, TS_TYPE, nullable=False))

#: bars-schema column → (integer block?, row)
BLOCK_ROWS: dict[str, tuple[bool, int]] = {
    "ts": (True, layout.B_TS), "ts_close": (True, layout.B_TS_CLOSE), "open": (False, layout.B_OPEN),
    "high": (False, layout.B_HIGH), "low": (False, layout.B_LOW), "close": (False, layout.B_CLOSE),
    "volume": (False, layout.B_VOLUME), "quote_volume": (False, layout.B_QUOTE),
    "vwap": (False, layout.B_VWAP), "n_trades": (True, layout.B_N_TRADES),
    "buy_volume": (False, layout.B_BUY), "buy_quote_volume": (False, layout.B_BUY_QUOTE),
    "first_trade_id": (True, layout.B_FIRST_ID), "last_trade_id": (True, layout.B_LAST_ID),
    PERIOD_START: (True, layout.B_PERIOD_START),
}


@dataclass(frozen=True)
class BarBlock:
    """``n`` bars: float columns as rows of ``floats`` (N_BAR_FLOAT × n), integer ones (µs timestamps,
    counts, ids) as rows of ``ints`` (N_BAR_INT × n)."""

    floats: np.ndarray
    ints: np.ndarray

    @classmethod
    def empty(cls, n: int) -> BarBlock:
        return cls(np.empty((layout.N_BAR_FLOAT, n)), np.empty((layout.N_BAR_INT, n), dtype=np.int64))

    def __len__(self) -> int:
        return int(self.floats.shape[1])


def to_table(parts: list[BarBlock], schema: pa.Schema) -> pa.Table:
    """Concatenate blocks into one Arrow table of ``schema``, each column a view of one block row."""
    if len(parts) == 1:
        block = parts[0]
    elif parts:
        block = BarBlock(np.concatenate([p.floats for p in parts], axis=1),
                         np.concatenate([p.ints for p in parts], axis=1))
    else:
        block = BarBlock.empty(0)
    n = len(block)
    kinds, columns = _column_plan(schema)
    # one Arrow array per column type over a whole block, then a zero-copy slice per column: a few
    # ``from_buffers`` calls instead of one per column
    buffers = (pa.py_buffer(block.floats), pa.py_buffer(block.ints))
    wholes = [pa.Array.from_buffers(arrow_type, block.floats.size if is_int == 0 else block.ints.size,
                                    [None, buffers[is_int]]) for arrow_type, is_int in kinds]
    return pa.Table.from_arrays([wholes[kind].slice(row * n, n) for kind, row in columns], schema=schema)


Plan = tuple[list[tuple[pa.DataType, int]], list[tuple[int, int]]]
_PLANS: dict[int, tuple[pa.Schema, Plan]] = {}


def _column_plan(schema: pa.Schema) -> Plan:
    """The distinct (Arrow type, block: 0 floats / 1 ints) of ``schema``, and per column (index of
    its type, block row). Cached by identity (builders return module-level schemas): walking a
    schema's fields builds new Field objects, and hashing a schema or a type walks them too, each
    costing as much as building the columns."""
    entry = _PLANS.get(id(schema))
    if entry is None or entry[0] is not schema:
        kinds: list[tuple[pa.DataType, int]] = []
        columns = []
        for fld in schema:
            is_int, row = BLOCK_ROWS[fld.name]
            kind = (fld.type, int(is_int))
            if kind not in kinds:
                kinds.append(kind)
            columns.append((kinds.index(kind), row))
        entry = (schema, (kinds, columns))
        _PLANS[id(schema)] = entry
    return entry[1]
