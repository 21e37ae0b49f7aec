"""Strategies: a signal plus universe, rebalance schedule and sizing."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

if TYPE_CHECKING:
    import pandas as pd


@runtime_checkable
class Strategy(Protocol):
    """``target_weights(panel, params)`` turns a panel of bars and features indexed by
    ``(ts, symbol)`` into a Series on the same index. For a ``cross_sectional`` engine the values are
    target portfolio weights (fractions of NAV, negative = short, NaN or 0 = flat); for a
    ``time_series`` engine they are per-asset signals in [-1, 1] that the engine sizes.

    The value at ``ts`` may use rows up to and including ``ts`` only: the engine fills it at the next
    bar's open. When the caller supplies a point-in-time universe the panel carries a boolean
    ``in_universe`` column; the engine also zeroes weights outside it. The rebalance calendar is an
    engine parameter. ``engine`` names the registered engine that runs the strategy."""

    name: str
    summary: str
    engine: str
    Params: ClassVar[type[BaseModel]]

    def target_weights(self, panel: pd.DataFrame, params: BaseModel) -> pd.Series: ...
