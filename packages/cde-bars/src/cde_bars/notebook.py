"""Bars from an in-memory trades table in one call (notebooks, tests, small data)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from cde_core.errors import SchemaError
from cde_core.schemas import TRADES_SCHEMA


def build_bars(trades: Any, bar: str, *, flush: bool = False, ts_unit: str | None = None,
               builder: Any = None, **params: Any) -> pd.DataFrame:
    """Bars of ``trades`` with builder ``bar`` (``time``, ``dollar``, ``tick_imbalance`` …).

    ``trades`` is a pandas or polars DataFrame or a pyarrow Table (anything that exports an Arrow
    stream). ``params`` are the builder's parameters (``interval="1h"``, ``threshold=1e7`` …). The trades need
    ``ts``, ``price``, ``qty`` and ``is_buyer_maker``; a missing ``trade_id`` becomes the row number
    and a missing ``quote_qty`` becomes price × qty. ``ts`` must be timestamps; plain integers are
    accepted only with ``ts_unit`` (``"s"``, ``"ms"``, ``"us"``, ``"ns"``) naming their epoch unit.
    ``flush`` also returns the unfinished last bar; off by default, as in ``cde aggregate`` (its
    ``--flush``), because that bar is cut by the end of the data, not by its rule. Returns a DataFrame
    in the bars schema (timestamps tz-aware UTC), one row per bar. Bad trades (unsorted, non-finite or
    non-positive prices, negative quantities, timestamps before 2009 or in the future) and bad
    parameters raise a :class:`cde_core.errors.CdeError` naming the row or the parameter.
    """
    if builder is None:
        from cde_bars.catalog import builder_by_name

        builder = builder_by_name(bar)
    table = canonical_trades(trades, ts_unit=ts_unit)
    state = builder.new_state(params)
    parts = [builder.update(state, table)]
    if flush:
        parts.append(builder.flush(state))
    return pa.concat_tables(parts).to_pandas()


def canonical_trades(trades: Any, *, ts_unit: str | None = None) -> pa.Table:
    """Trades as a table in :data:`TRADES_SCHEMA` (derivable columns filled in, types cast)."""
    from cde_bars.trade_columns import cast_trade_column

    if isinstance(trades, pd.DataFrame):
        try:
            table = pa.Table.from_pandas(trades, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise SchemaError(f"trades are not a table of plain columns: {exc}", where="build_bars",
                              hint=f"expected columns: {', '.join(TRADES_SCHEMA.names)}") from None
    elif isinstance(trades, pa.Table):
        table = trades
    elif hasattr(trades, "__arrow_c_stream__"):  # polars, DuckDB relations, pyarrow record batch readers …
        table = pa.table(trades)
    else:
        kind = f"{type(trades).__module__.split('.')[0]}.{type(trades).__name__}"
        raise SchemaError(f"trades are a {kind}, not a table", where="build_bars",
                          hint="pass a pandas or polars DataFrame or a pyarrow Table with columns "
                               f"{', '.join(TRADES_SCHEMA.names)}")
    names = set(table.column_names)
    missing = {"ts", "price", "qty", "is_buyer_maker"} - names
    if missing:
        raise SchemaError(f"trades lack column(s) {', '.join(sorted(missing))}", where="build_bars",
                          hint=f"expected: {', '.join(TRADES_SCHEMA.names)}")
    columns = {}
    for fld in TRADES_SCHEMA:
        if fld.name in names:
            columns[fld.name] = cast_trade_column(table.column(fld.name), fld.name, where="build_bars",
                                                  ts_unit=ts_unit)
        elif fld.name == "trade_id":
            columns[fld.name] = pa.array(np.arange(table.num_rows, dtype=np.int64))
        else:  # quote_qty
            price = columns["price"].to_numpy()
            qty = columns["qty"].to_numpy()
            columns[fld.name] = pa.array(price * qty)
    return pa.table(columns, schema=TRADES_SCHEMA)
