"""Time bars on UTC-epoch-aligned intervals from 1 s to 1 d."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel

from cde_bars.builders.base import KernelBarBuilder
from cde_bars.params import TimeBarParams

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from cde_bars.state import BarState
    from cde_bars.trade_columns import TradeColumns


class TimeBarBuilder(KernelBarBuilder):
    """Bars per interval ``[k·Δ, (k+1)·Δ)`` since the UTC epoch; extra column ``period_start``."""

    name = "time"
    summary = "one bar per UTC-aligned interval (1s..1d); empty intervals omitted or forward-filled"
    Params: ClassVar[type[BaseModel]] = TimeBarParams

    def output_schema(self) -> pa.Schema:
        from cde_bars.assemble import TIME_BARS_SCHEMA

        return TIME_BARS_SCHEMA

    def spec_id(self, params: BaseModel) -> str:
        p = TimeBarParams.model_validate(params.model_dump())
        return f"time-{p.interval}" + ("-fill" if p.fill else "")

    def _interval_us(self, params: BaseModel) -> int | None:
        if isinstance(params, TimeBarParams):  # the validated params a state carries: no re-validation
            return params.interval_us
        return TimeBarParams.model_validate(params.model_dump()).interval_us

    def _run(self, state: BarState, cols: TradeColumns, out_f: np.ndarray, ends: np.ndarray,
             counts: np.ndarray, periods: np.ndarray, start: int) -> tuple[int, int]:
        from cde_bars.kernels.time import time_bars

        p: TimeBarParams = state.params  # type: ignore[assignment]
        k, nxt = time_bars(cols.ts, cols.price, cols.qty, cols.quote, cols.maker, p.interval_us, p.fill,
                           state.floats, state.ints, out_f, ends, counts, periods, start)
        return int(k), int(nxt)
