"""What every kernel-backed builder shares: the streaming loop around a kernel and the flush.

A subclass names its kernel call (``_run``) and parameters; this class turns Arrow batches into
arrays, calls the kernel until the batch is consumed (growing the preallocated output instead of
growing arrays inside the loop), assembles the closed bars into the stream's output block and
carries the state in one compiled call (:mod:`cde_bars.kernels.finish`), and returns them as a
zero-copy slice of that block (:mod:`cde_bars.bar_output`).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from cde_core.errors import DataError

if TYPE_CHECKING:  # numpy / pyarrow load on first use: registering builders stays cheap
    import numpy as np
    import pyarrow as pa

    from cde_bars.assemble import BarBlock
    from cde_bars.bar_output import BarOutput
    from cde_bars.state import BarState
    from cde_bars.trade_columns import TradeColumns

#: first capacity of a stream's kernel scratch output (bars per kernel call); ×4 each time a call
#: fills it, up to MAX_CAPACITY
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
        """Consume trades (canonical schema, time order); return the bars that closed.

        The result is a zero-copy slice of the stream's output block (:mod:`cde_bars.bar_output`) and
        never changes afterwards. Should a later batch of a multi-batch table be refused, the bars its
        earlier batches closed (the state has moved past them) come with the next call's result."""
        import pyarrow as pa

        output = state.output
        if output is None:
            from cde_bars.bar_output import BarOutput

            output = state.output = BarOutput(self.output_schema(), FIRST_CAPACITY, MAX_CAPACITY)
        if isinstance(trades, pa.Table):
            for batch in trades.to_batches():
                if batch.num_rows:
                    self._update_batch(state, batch, output)
        elif trades.num_rows:
            self._update_batch(state, trades, output)
        return output.take()

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
    def _update_batch(self, state: BarState, batch: pa.RecordBatch, output: BarOutput) -> None:
        """Append the bars closed by one record batch to ``output``. Its fixed cost per call is kept
        to a few microseconds (zero-copy columns, one kernel call plus :func:`finish_call` per
        scratch fill, no allocation, no Arrow objects): the lake reader hands 2^17-trade batches."""
        trade_columns, check_trades, finish_call, last_ts_slot = _per_batch_functions()
        where = f"{self.name} bars"
        cols = trade_columns(batch, where=where)
        check_trades(cols, int(state.ints[last_ts_slot]) if state.started else None, where=where)
        interval_us = self._interval_us(state.params) or 0
        n = len(cols)
        start = 0
        while start < n:
            out_f, ends, counts, periods = output.out_f, output.ends, output.counts, output.periods
            before_f, before_i = state.floats.copy(), state.ints.copy()
            k, next_index = self._run(state, cols, out_f, ends, counts, periods, start)
            if next_index <= start and k == 0:
                raise DataError("bar kernel made no progress", where=where)  # pragma: no cover
            block = output.room(k)
            finish_call(cols.ts, cols.trade_id, cols.price, state.floats, state.ints, before_f, before_i,
                        start, next_index, k, out_f, ends, counts, periods, interval_us, block.floats,
                        block.ints, output.used)
            output.used += k
            state.started = True
            if k == output.capacity:
                output.grow_scratch()
            start = next_index

    def _table(self, parts: list[BarBlock]) -> pa.Table:
        from cde_bars.assemble import to_table

        return to_table(parts, self.output_schema())


@cache
def _per_batch_functions() -> tuple[Any, Any, Any, int]:
    """What every batch needs, imported once (an import statement per call costs ~0.5 µs each; the
    modules load numpy, pyarrow and Numba, so not at import of this module)."""
    from cde_bars.kernels.finish import finish_call
    from cde_bars.kernels.layout import I_LAST_TS
    from cde_bars.trade_checks import check_trades
    from cde_bars.trade_columns import trade_columns

    return trade_columns, check_trades, finish_call, I_LAST_TS
