"""Tick / volume / dollar imbalance and run bars (López de Prado, AFML ch. 2.3.2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from cde_bars.builders.base import KernelBarBuilder
from cde_bars.params import ImbalanceBarParams, InformationBarParams, RunBarParams
from cde_bars.spec_ids import number_label, params_digest

if TYPE_CHECKING:
    import numpy as np

    from cde_bars.state import BarState
    from cde_bars.trade_columns import TradeColumns


class InformationBarBuilder(KernelBarBuilder):
    """Bars that close when signed order flow departs from its EWMA expectation."""

    measure: ClassVar[int]
    run: ClassVar[bool]

    def spec_id(self, params: BaseModel) -> str:
        p = self.validate_params(params)
        return f"{self.name}-t{number_label(p.expected_ticks_init)}-{params_digest(p)}"  # type: ignore[attr-defined]

    def new_state(self, params: BaseModel | dict[str, Any]) -> BarState:
        from cde_bars.kernels.layout import F_EXP_TICKS

        state = super().new_state(params)
        state.floats[F_EXP_TICKS] = state.params.expected_ticks_init  # type: ignore[attr-defined]
        return state

    def _run(self, state: BarState, cols: TradeColumns, out_f: np.ndarray, ends: np.ndarray,
             counts: np.ndarray, periods: np.ndarray, start: int) -> tuple[int, int]:
        from cde_bars.kernels.information import information_kernel

        p: InformationBarParams = state.params  # type: ignore[assignment]
        floor = float(getattr(p, "imbalance_floor", 0.0))
        kernel = information_kernel(self.measure, self.run, p.side == "tick_rule")
        k, nxt = kernel(cols.price, cols.qty, cols.quote, cols.maker, p.alpha, p.expected_ticks_min,
                        p.expected_ticks_max, floor, state.floats, state.ints, out_f, ends, counts, start)
        return int(k), int(nxt)


class ImbalanceBarBuilder(InformationBarBuilder):
    Params: ClassVar[type[BaseModel]] = ImbalanceBarParams
    run = False


class RunBarBuilder(InformationBarBuilder):
    Params: ClassVar[type[BaseModel]] = RunBarParams
    run = True


class TickImbalanceBarBuilder(ImbalanceBarBuilder):
    name = "tick_imbalance"
    summary = "tick imbalance bars: close when the signed trade count exceeds its EWMA expectation"
    measure = 0


class VolumeImbalanceBarBuilder(ImbalanceBarBuilder):
    name = "volume_imbalance"
    summary = "volume imbalance bars: close when signed base volume exceeds its EWMA expectation"
    measure = 1


class DollarImbalanceBarBuilder(ImbalanceBarBuilder):
    name = "dollar_imbalance"
    summary = "dollar imbalance bars: close when signed quote volume exceeds its EWMA expectation"
    measure = 2


class TickRunBarBuilder(RunBarBuilder):
    name = "tick_run"
    summary = "tick run bars: close when the dominant side's trade count exceeds its EWMA expectation"
    measure = 0


class VolumeRunBarBuilder(RunBarBuilder):
    name = "volume_run"
    summary = "volume run bars: close when the dominant side's base volume exceeds its EWMA expectation"
    measure = 1


class DollarRunBarBuilder(RunBarBuilder):
    name = "dollar_run"
    summary = "dollar run bars: close when the dominant side's quote volume exceeds its EWMA expectation"
    measure = 2


ALL_INFORMATION_BUILDERS = (TickImbalanceBarBuilder, VolumeImbalanceBarBuilder, DollarImbalanceBarBuilder,
                            TickRunBarBuilder, VolumeRunBarBuilder, DollarRunBarBuilder)
