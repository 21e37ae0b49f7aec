"""What every kernel-backed builder shares: the streaming loop around a kernel and the flush.

A subclass names its kernel call (``_run``) and parameters; this class turns Arrow batches into
arrays, calls the kernel until the batch is consumed (growing the preallocated output instead of
growing arrays inside the loop), assembles the closed bars, and keeps the carried state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from cde_core.errors import DataError

if TYPE_CHECKING:  # numpy / pyarrow load on first use: registering builders stays cheap
    import numpy as np
    import pyarrow as pa

    from cde_bars.state import BarState
    from cde_bars.trade_columns import TradeColumns

FIRST_CAPACITY = 1024
MAX_CAPACITY = 1 << 20


class KernelBarBuilder:
    """Base of the registered builders (satisfies :class:`cde_core.contracts.bars.BarBuilder`)."""

    name: ClassVar[str]
    summary: ClassVar[str]
    Params: ClassVar[type[BaseModel]]

    def output_schema(self) -> pa.Schema:
        """Schema of the bars this builder returns (the canonical bars schema, plus extras)."""
        from cde_core.schemas import BARS_SCHEMA

        return BARS_SCHEMA

    # -- protocol ------------------------------------------------------------------------------
    def spec_id(self, params: BaseModel) -> str:
        raise NotImplementedError

    def validate_params(self, params: BaseModel | dict[str, Any]) -> BaseModel:
        from cde_bars.params import validated_params

        return validated_params(self, params)

    def new_state(self, params: BaseModel | dict[str, Any]) -> BarState:
        from cde_bars.state import BarState

        return BarState.fresh(self.validate_params(params), ring_days=self._ring_days(params))

    def update(self, state: BarState, trades: pa.Table | pa.RecordBatch) -> pa.Table:
        """Consume trades (canonical schema, time order); return the bars that closed."""
        import pyarrow as pa

        batches = trades.to_batches() if isinstance(trades, pa.Table) else [trades]
        parts = []
        for batch in batches:
            if batch.num_rows:
                parts.extend(self._update_batch(state, batch))
        return self._table(parts)

    def flush(self, state: BarState) -> pa.Table:
        """Emit the unfinished bar (empty table if none) and start the next bar afresh."""
        from cde_bars.flush import flush_open_bar

        columns = flush_open_bar(state, self._interval_us(state.params))
        return self._table([columns] if columns is not None else [])

    # -- subclass hooks ------------------------------------------------------------------------
    def _run(self, state: BarState, cols: TradeColumns, out_f: np.ndarray, ends: np.ndarray,
             counts: np.ndarray, periods: np.ndarray, start: int) -> tuple[int, int]:
        raise NotImplementedError

    def _ring_days(self, params: BaseModel | dict[str, Any]) -> int:
        return 1

    def _interval_us(self, params: BaseModel) -> int | None:
        return None

    # -- internals -----------------------------------------------------------------------------
    def _update_batch(self, state: BarState, batch: pa.RecordBatch) -> list[dict[str, np.ndarray]]:
        import numpy as np

        from cde_bars.assemble import assemble_bars
        from cde_bars.kernels.layout import F_CLOSE, I_COUNT, I_LAST_ID, I_LAST_TS
        from cde_bars.trade_checks import check_trades
        from cde_bars.trade_columns import trade_columns

        where = f"{self.name} bars"
        cols = trade_columns(batch, where=where)
        check_trades(cols, int(state.ints[I_LAST_TS]) if state.started else None, where=where)
        interval_us = self._interval_us(state.params)
        parts = []
        n = len(cols)
        start = 0
        capacity = FIRST_CAPACITY
        while start < n:
            out_f = np.empty((6, capacity))
            ends = np.empty(capacity, dtype=np.int64)
            counts = np.empty(capacity, dtype=np.int64)
            periods = np.zeros(capacity, dtype=np.int64)
            before = state.copy()
            k, next_index = self._run(state, cols, out_f, ends, counts, periods, start)
            if next_index <= start and k == 0:
                raise DataError("bar kernel made no progress", where=where)  # pragma: no cover
            if k:
                parts.append(assemble_bars(cols, before, start, int(before.ints[I_COUNT]), k, out_f, ends,
                                           counts, periods if interval_us else None, interval_us))
            self._carry(state, cols, start, next_index)
            state.started = True
            start = next_index
            capacity = min(capacity * 4, MAX_CAPACITY)
        state.floats[F_CLOSE] = cols.price[n - 1]
        state.ints[I_LAST_TS] = cols.ts[n - 1]
        state.ints[I_LAST_ID] = cols.trade_id[n - 1]
        return parts

    @staticmethod
    def _carry(state: BarState, cols: TradeColumns, start: int, next_index: int) -> None:
        """Record the open bar's first trade when it began in this call, and the last trade seen."""
        from cde_bars.kernels.layout import (
            F_CLOSE,
            F_OPEN,
            I_COUNT,
            I_LAST_ID,
            I_LAST_TS,
            I_OPEN_ID,
            I_OPEN_TS,
        )

        if next_index <= start:
            return
        open_count = int(state.ints[I_COUNT])
        first = next_index - open_count
        if open_count and first >= start:
            state.floats[F_OPEN] = cols.price[first]
            state.ints[I_OPEN_TS] = cols.ts[first]
            state.ints[I_OPEN_ID] = cols.trade_id[first]
        last = next_index - 1
        state.floats[F_CLOSE] = cols.price[last]
        state.ints[I_LAST_TS] = cols.ts[last]
        state.ints[I_LAST_ID] = cols.trade_id[last]

    def _table(self, parts: list[dict[str, np.ndarray]]) -> pa.Table:
        from cde_bars.assemble import to_table

        return to_table(parts, self.output_schema())
