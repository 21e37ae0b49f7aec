"""Canonical Arrow schemas (ARCHITECTURE.md "Data") and their validation.

Every exchange adapter produces exactly :data:`TRADES_SCHEMA`; every bar builder produces at least
:data:`BARS_SCHEMA` (extra columns allowed after the canonical ones). Exchange klines are stored as
:data:`KLINES_SCHEMA`, perpetual funding rates as :data:`FUNDING_SCHEMA`.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from cde_core.errors import SchemaError

TS_TYPE = pa.timestamp("us", tz="UTC")

TRADES_SCHEMA = pa.schema(
    [
        pa.field("ts", TS_TYPE, nullable=False),
        pa.field("trade_id", pa.int64(), nullable=False),
        pa.field("price", pa.float64(), nullable=False),
        pa.field("qty", pa.float64(), nullable=False),
        pa.field("quote_qty", pa.float64(), nullable=False),
        pa.field("is_buyer_maker", pa.bool_(), nullable=False),
    ]
)

BARS_SCHEMA = pa.schema(
    [
        pa.field("ts", TS_TYPE, nullable=False),
        pa.field("ts_close", TS_TYPE, nullable=False),
        pa.field("open", pa.float64(), nullable=False),
        pa.field("high", pa.float64(), nullable=False),
        pa.field("low", pa.float64(), nullable=False),
        pa.field("close", pa.float64(), nullable=False),
        pa.field("volume", pa.float64(), nullable=False),
        pa.field("quote_volume", pa.float64(), nullable=False),
        pa.field("vwap", pa.float64(), nullable=False),
        pa.field("n_trades", pa.int64(), nullable=False),
        pa.field("buy_volume", pa.float64(), nullable=False),
        pa.field("buy_quote_volume", pa.float64(), nullable=False),
        pa.field("first_trade_id", pa.int64(), nullable=False),
        pa.field("last_trade_id", pa.int64(), nullable=False),
    ]
)


#: An exchange's own candles (Binance ``klines``), kept to cross-check the trades they summarise. Volumes
#: mean what the trades' columns mean: ``volume`` / ``taker_buy_volume`` in base units (coin),
#: ``quote_volume`` / ``taker_buy_quote_volume`` in quote (COIN-M: USD notional), whatever the file's
#: own units; ``count`` is the number of trades; ``close_time`` is the interval's last instant.
KLINES_SCHEMA = pa.schema(
    [
        pa.field("open_time", TS_TYPE, nullable=False),
        pa.field("close_time", TS_TYPE, nullable=False),
        pa.field("open", pa.float64(), nullable=False),
        pa.field("high", pa.float64(), nullable=False),
        pa.field("low", pa.float64(), nullable=False),
        pa.field("close", pa.float64(), nullable=False),
        pa.field("volume", pa.float64(), nullable=False),
        pa.field("quote_volume", pa.float64(), nullable=False),
        pa.field("count", pa.int64(), nullable=False),
        pa.field("taker_buy_volume", pa.float64(), nullable=False),
        pa.field("taker_buy_quote_volume", pa.float64(), nullable=False),
    ]
)


#: Settled funding of a perpetual: at ``calc_time`` longs pay shorts ``funding_rate`` × position notional
#: (negative: shorts pay longs); ``funding_interval_hours`` is the period it settles (8, 4 or 1).
FUNDING_SCHEMA = pa.schema(
    [
        pa.field("calc_time", TS_TYPE, nullable=False),
        pa.field("funding_interval_hours", pa.int64(), nullable=False),
        pa.field("funding_rate", pa.float64(), nullable=False),
    ]
)


#: Extra column of time bars: the UTC start of the bar's interval. Bars of different symbols share it, so
#: it is the clock of cross-sectional panels (``ts`` is the first trade and differs between symbols).
PERIOD_START = "period_start"


def bar_clock_column(names: list[str] | tuple[str, ...]) -> str:
    """The column that labels bars in a panel: the interval start of time bars, else the first trade.

    A panel row labelled ``t`` holds the bar that starts at ``t``; its values are known at the bar's
    close (``ts_close``), so consumers must act on it no earlier than the next bar.
    """
    return PERIOD_START if PERIOD_START in names else "ts"


#: ``DataFrame.attrs`` key of a time-bar panel's interval (a ``pandas.Timedelta``): the grid on which a
#: symbol's missing bar is a gap, not the next bar (the feature calculator reads it)
BAR_INTERVAL_ATTR = "bar_interval"


def mark_bar_interval(panel: Any) -> Any:
    """Record on a time-bar panel indexed by ``(interval start, symbol)`` its interval: the smallest
    step between one symbol's consecutive bars (time bars are aligned to the epoch, so every step is
    a multiple of it). Returns the panel; a panel where no symbol has two bars is left unmarked."""
    import numpy as np

    ts = panel.index.get_level_values(0).as_unit("ns").asi8
    codes = panel.index.get_level_values(1).factorize()[0]
    order = np.lexsort((ts, codes))
    steps = np.diff(ts[order])[np.diff(codes[order]) == 0]
    steps = steps[steps > 0]
    if len(steps):
        import pandas as pd

        panel.attrs[BAR_INTERVAL_ATTR] = pd.Timedelta(int(steps.min()), unit="ns")
    return panel


def validate_table(table: pa.Table, schema: pa.Schema, *, where: str, exact: bool = True) -> pa.Table:
    """Check ``table`` against ``schema``; raise :class:`SchemaError` naming the first bad column.

    ``exact`` requires no extra columns and the canonical column order; otherwise the canonical
    columns must come first and extra columns may follow. Non-nullable fields may hold no nulls.
    Returns the table unchanged so the call can wrap a write.
    """
    names = table.column_names
    for i, expected in enumerate(schema):
        if expected.name not in names:
            raise SchemaError(f"missing column '{expected.name}'", where=where,
                              hint=f"expected columns: {', '.join(schema.names)}")
        if i >= len(names) or names[i] != expected.name:
            raise SchemaError(f"column '{expected.name}' is at position {names.index(expected.name)}, "
                              f"expected {i}", where=where, hint="select columns in schema order")
        actual = table.schema.field(expected.name).type
        if actual != expected.type:
            raise SchemaError(f"column '{expected.name}' has type {actual}, expected {expected.type}",
                              where=where, hint="cast it before writing")
        if not expected.nullable:
            nulls = table.column(expected.name).null_count
            if nulls:
                raise SchemaError(f"column '{expected.name}' has {nulls} null value(s)", where=where,
                                  hint="drop or fill them at the source")
    if exact and len(names) != len(schema):
        extra = [n for n in names if n not in schema.names]
        raise SchemaError(f"unexpected column(s) {', '.join(extra)}", where=where,
                          hint=f"expected exactly: {', '.join(schema.names)}")
    return table


def is_sorted(array: pa.Array | pa.ChunkedArray) -> bool:
    """True when the values never decrease (used for ts / trade id ordering checks)."""
    if len(array) < 2:
        return True
    combined = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    diffs = pc.subtract(combined.slice(1), combined.slice(0, len(combined) - 1))
    if pa.types.is_timestamp(combined.type):
        diffs = diffs.cast(pa.int64())
    return bool(pc.all(pc.greater_equal(diffs, 0)).as_py())
