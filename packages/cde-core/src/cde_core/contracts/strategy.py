"""Strategies: a signal plus universe, rebalance schedule and sizing."""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

import pandas as pd
from pydantic import BaseModel


@runtime_checkable
class Strategy(Protocol):
    """``target_weights(panel, params)`` turns a panel of bars and features indexed by
    ``(ts, symbol)`` into target portfolio weights (same index, NaN or 0 = flat) at rebalance
    times. ``engine`` names the registered engine that runs it."""

    name: str
    summary: str
    engine: str
    Params: ClassVar[type[BaseModel]]

    def target_weights(self, panel: pd.DataFrame, params: BaseModel) -> pd.Series: ...
