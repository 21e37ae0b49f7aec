"""Factors: bars → feature columns, never looking ahead."""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

import pandas as pd
from pydantic import BaseModel


@runtime_checkable
class Factor(Protocol):
    """A factor computed from one symbol's bars (``cross_sectional = False``) or from a panel of
    all symbols at each timestamp (``cross_sectional = True``).

    ``compute(bars, params)`` receives bars indexed by ``ts`` (one symbol) or by ``(ts, symbol)``
    (panel) and returns a DataFrame with the same index and exactly ``columns(params)``. Values at a
    row may depend only on that row and earlier rows; the first ``lookback(params)`` rows are NaN.
    """

    name: str
    group: str
    summary: str
    inputs: tuple[str, ...]
    cross_sectional: bool
    Params: ClassVar[type[BaseModel]]

    def lookback(self, params: BaseModel) -> int: ...

    def columns(self, params: BaseModel) -> list[str]: ...

    def compute(self, bars: pd.DataFrame, params: BaseModel) -> pd.DataFrame: ...
