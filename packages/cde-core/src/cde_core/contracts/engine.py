"""Backtest engines: target weights + prices → NAV, positions, trades and metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

if TYPE_CHECKING:
    import pandas as pd


@runtime_checkable
class Engine(Protocol):
    """``run(panel, weights, params)`` simulates trading a strategy's output (see
    :class:`cde_core.contracts.strategy.Strategy`) on the bars panel (``(ts, symbol)`` index with at
    least open, high, low, close, quote_volume; optional ``funding_rate`` and ``in_universe``) and
    returns a result object with ``nav``, ``positions``, ``weights``, ``trades`` (DataFrames) and
    ``metrics`` (a pydantic model). Orders decided on bar *t* fill no earlier than bar *t+1*'s open
    unless ``params`` explicitly asks for close-of-signal fills."""

    name: str
    summary: str
    Params: ClassVar[type[BaseModel]]

    def run(self, panel: pd.DataFrame, weights: pd.Series, params: BaseModel) -> Any: ...
