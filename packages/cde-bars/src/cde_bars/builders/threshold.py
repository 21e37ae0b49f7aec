"""Tick, volume and dollar bars (fixed or dynamic threshold)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from cde_bars.builders.base import KernelBarBuilder
from cde_bars.params import ThresholdBarParams
from cde_bars.spec_ids import number_label, params_digest

if TYPE_CHECKING:
    import numpy as np

    from cde_bars.state import BarState
    from cde_bars.trade_columns import TradeColumns


class ThresholdBarBuilder(KernelBarBuilder):
    """Bars that close when a running measure reaches a threshold (the reaching trade closes it)."""

    Params: ClassVar[type[BaseModel]] = ThresholdBarParams
    measure: ClassVar[int]

    def spec_id(self, params: BaseModel) -> str:
        p = ThresholdBarParams.model_validate(params.model_dump())
        if p.thresholds is not None:
            return f"{self.name}-days{len(p.thresholds)}-init{number_label(p.threshold)}-{params_digest(p)}"
        if p.bars_per_day is None:
            return f"{self.name}-{number_label(p.threshold)}"
        return (f"{self.name}-bpd{number_label(p.bars_per_day)}-w{p.window_days}"
                f"-init{number_label(p.threshold)}")

    def new_state(self, params: BaseModel | dict[str, Any]) -> BarState:
        from cde_bars.kernels.layout import F_THRESHOLD

        state = super().new_state(params)
        state.floats[F_THRESHOLD] = state.params.threshold  # type: ignore[attr-defined]
        return state

    def _ring_days(self, params: BaseModel | dict[str, Any]) -> int:
        return int(self.validate_params(params).window_days)  # type: ignore[attr-defined]

    def _run(self, state: BarState, cols: TradeColumns, out_f: np.ndarray, ends: np.ndarray,
             counts: np.ndarray, periods: np.ndarray, start: int) -> tuple[int, int]:
        from cde_bars.kernels.threshold import threshold_kernel

        p: ThresholdBarParams = state.params  # type: ignore[assignment]
        if p.thresholds is not None:  # the caller's series: one UTC day per call, its value set first
            from cde_bars.kernels.layout import F_THRESHOLD

            cols, state.floats[F_THRESHOLD] = day_segment(cols, start, p)
        kernel = threshold_kernel(self.measure, p.bars_per_day is not None)
        k, nxt = kernel(cols.ts, cols.price, cols.qty, cols.quote, cols.maker, float(p.bars_per_day or 1.0),
                        state.floats, state.ints, state.ring, out_f, ends, counts, start)
        return int(k), int(nxt)


class TickBarBuilder(ThresholdBarBuilder):
    name = "tick"
    summary = "a bar every N trades (threshold = trades per bar; fixed or dynamic)"
    measure = 0


class VolumeBarBuilder(ThresholdBarBuilder):
    name = "volume"
    summary = "a bar every V base units traded (fixed or dynamic threshold)"
    measure = 1


class DollarBarBuilder(ThresholdBarBuilder):
    name = "dollar"
    summary = "a bar every Q quote units traded, e.g. 1e7 USDT (fixed or dynamic threshold)"
    measure = 2


def day_segment(cols: TradeColumns, start: int, p: ThresholdBarParams) -> tuple[TradeColumns, float]:
    """The trades up to the end of the UTC day of trade ``start`` and that day's threshold: the latest
    listed day at or before it, else ``p.threshold``."""
    import dataclasses

    import numpy as np

    day_us = 86_400_000_000
    day = int(cols.ts[start] // day_us)
    end = int(np.searchsorted(cols.ts, (day + 1) * day_us, side="left"))
    days, values = p.day_thresholds()
    at = int(np.searchsorted(days, day, side="right")) - 1
    threshold = float(values[at]) if at >= 0 else float(p.threshold)
    if end >= len(cols):
        return cols, threshold
    return dataclasses.replace(cols, **{f.name: getattr(cols, f.name)[:end]
                                        for f in dataclasses.fields(cols)}), threshold
