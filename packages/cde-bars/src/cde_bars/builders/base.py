"""What every kernel-backed builder shares: the streaming loop around a kernel and the flush.

A subclass names its kernel call (``_run``) and parameters; this class turns Arrow batches into
arrays, calls the kernel until the batch is consumed (growing the preallocated output instead of
growing arrays inside the loop), assembles the closed bars and carries the state in one compiled
call (:mod:`cde_bars.kernels.finish`), and returns them as zero-copy Arrow columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from cde_core.errors import DataError

if TYPE_CHECKING:  # numpy / pyarrow load on first use: registering builders stays cheap
    import numpy as np
    import pyarrow as pa

    from cde_bars.assemble import BarBlock
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

        bar = flush_open_bar(state, self._interval_us(state.params))
        return self._table([bar] if bar is not None else [])

    # -- subclass hooks ------------------------------------------------------------------------
    def _run(self, state: BarState, cols: TradeColumns, out_f: np.ndarray, ends: np.ndarray,
             counts: np.ndarray, periods: np.ndarray, start: int) -> tuple[int, int]:
        raise NotImplementedError

    def _ring_days(self, params: BaseModel | dict[str, Any]) -> int:
        return 1

    def _interval_us(self, params: BaseModel) -> int | None:
        return None

    # -- internals -----------------------------------------------------------------------------
    def _update_batch(self, state: BarState, batch: pa.RecordBatch) -> list[BarBlock]:
        """Bars closed by one record batch. Its fixed cost per call is kept to a handful of
        microseconds (one kernel call plus :func:`finish_call` per output fill, zero-copy columns):
        the lake reader hands 2^17-trade batches, and that tax used to halve the bars rate."""
        import numpy as np

        from cde_bars.assemble import BarBlock
        from cde_bars.kernels.finish import finish_call
        from cde_bars.kernels.layout import I_LAST_TS, N_OUT_FLOAT
        from cde_bars.trade_checks import check_trades
        from cde_bars.trade_columns import trade_columns

        where = f"{self.name} bars"
        cols = trade_columns(batch, where=where)
        check_trades(cols, int(state.ints[I_LAST_TS]) if state.started else None, where=where)
        interval_us = self._interval_us(state.params) or 0
        parts = []
        n = len(cols)
        start = 0
        capacity = FIRST_CAPACITY
        while start < n:
            out_f = np.empty((N_OUT_FLOAT, capacity))
            ends = np.empty(capacity, dtype=np.int64)
            counts = np.empty(capacity, dtype=np.int64)
            periods = np.empty(capacity, dtype=np.int64)
            before_f, before_i = state.floats.copy(), state.ints.copy()
            k, next_index = self._run(state, cols, out_f, ends, counts, periods, start)
            if next_index <= start and k == 0:
                raise DataError("bar kernel made no progress", where=where)  # pragma: no cover
            bars = BarBlock.empty(k)
            finish_call(cols.ts, cols.trade_id, cols.price, state.floats, state.ints, before_f, before_i,
                        start, next_index, k, out_f, ends, counts, periods, interval_us, bars.floats,
                        bars.ints)
            if k:
                parts.append(bars)
            state.started = True
            start = next_index
            capacity = min(capacity * 4, MAX_CAPACITY)
        return parts

    def _table(self, parts: list[BarBlock]) -> pa.Table:
        from cde_bars.assemble import to_table

        return to_table(parts, self.output_schema())
