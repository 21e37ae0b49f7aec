"""Backtest engines: target weights + prices → NAV, positions, trades and metrics."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel


@runtime_checkable
class Engine(Protocol):
    """``run(panel, weights, params)`` simulates trading the target weights on the bars panel and
    returns a result object (NAV, positions, trade log, metrics). Orders decided on bar *t* fill no
    earlier than bar *t+1*'s open unless ``params`` explicitly asks for close-of-signal fills."""

    name: str
    summary: str
    Params: ClassVar[type[BaseModel]]

    def run(self, panel: Any, weights: Any, params: BaseModel) -> Any: ...
