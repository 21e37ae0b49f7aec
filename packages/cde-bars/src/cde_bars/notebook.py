"""Bars from an in-memory trades table in one call (notebooks, tests, small data)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from cde_core.errors import SchemaError
from cde_core.schemas import TRADES_SCHEMA, TS_TYPE


def build_bars(trades: pa.Table | pd.DataFrame, bar: str, *, flush: bool = True,
               builder: Any = None, **params: Any) -> pd.DataFrame:
    """Bars of ``trades`` with builder ``bar`` (``time``, ``dollar``, ``tick_imbalance`` …).

    ``params`` are the builder's parameters (``interval="1h"``, ``threshold=1e7`` …). The trades need
    ``ts``, ``price``, ``qty`` and ``is_buyer_maker``; a missing ``trade_id`` becomes the row number
    and a missing ``quote_qty`` becomes price × qty. ``flush`` (default) also returns the unfinished
    last bar. Returns a DataFrame in the bars schema (timestamps tz-aware UTC), one row per bar.
    """
    if builder is None:
        from cde_bars.catalog import builder_by_name

        builder = builder_by_name(bar)
    table = canonical_trades(trades)
    state = builder.new_state(params)
    parts = [builder.update(state, table)]
    if flush:
        parts.append(builder.flush(state))
    return pa.concat_tables(parts).to_pandas()


def canonical_trades(trades: pa.Table | pd.DataFrame) -> pa.Table:
    """Trades as a table in :data:`TRADES_SCHEMA` (derivable columns filled in, types cast)."""
    table = pa.Table.from_pandas(trades, preserve_index=False) if isinstance(trades, pd.DataFrame) else trades
    names = set(table.column_names)
    missing = {"ts", "price", "qty", "is_buyer_maker"} - names
    if missing:
        raise SchemaError(f"trades lack column(s) {', '.join(sorted(missing))}", where="build_bars",
                          hint=f"expected: {', '.join(TRADES_SCHEMA.names)}")
    columns = {}
    for fld in TRADES_SCHEMA:
        if fld.name in names:
            column = table.column(fld.name)
            columns[fld.name] = column.cast(TS_TYPE if fld.name == "ts" else fld.type)
        elif fld.name == "trade_id":
            columns[fld.name] = pa.array(np.arange(table.num_rows, dtype=np.int64))
        else:  # quote_qty
            price = table.column("price").cast(pa.float64()).to_numpy()
            qty = table.column("qty").cast(pa.float64()).to_numpy()
            columns[fld.name] = pa.array(price * qty)
    return pa.table(columns, schema=TRADES_SCHEMA)
