"""``signal_xs`` / ``signal_ts``: run any registered signal as a strategy.

``signal_xs`` treats the signal's output as target weights for the cross-sectional engine (use a
weights method such as factor/top_bottom); ``signal_ts`` treats it as per-asset signals in [-1, 1]
for the time-series engine (e.g. a rule signal).
"""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from cde_backtest.signals.calls import generate


class SignalStrategyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signal: str = Field(description="registered signal name (factor, rule, ensemble …)")
    params: dict[str, Any] = Field(default_factory=dict, description="the signal's parameters")


class SignalStrategy:
    Params: ClassVar[type[BaseModel]] = SignalStrategyParams

    def __init__(self, name: str, engine: str, summary: str) -> None:
        self.name = name
        self.engine = engine
        self.summary = summary

    def target_weights(self, panel: pd.DataFrame, params: BaseModel) -> pd.Series:
        p = SignalStrategyParams.model_validate(params.model_dump())
        return generate(p.signal, panel, p.params).rename(self.name)


def signal_strategies() -> list[SignalStrategy]:
    return [SignalStrategy("signal_xs", "cross_sectional", "a registered signal's output as target weights"),
            SignalStrategy("signal_ts", "time_series", "a registered signal's output as per-asset signals")]
