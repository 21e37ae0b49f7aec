"""Signal generators: a feature panel → scores or target weights per (time, symbol)."""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

import pandas as pd
from pydantic import BaseModel


@runtime_checkable
class SignalGenerator(Protocol):
    """``generate(features, params)`` takes a panel indexed by ``(ts, symbol)`` and returns a
    Series (same index) of scores or target weights. The value at ``ts`` may use rows up to ``ts``."""

    name: str
    summary: str
    Params: ClassVar[type[BaseModel]]

    def generate(self, features: pd.DataFrame, params: BaseModel) -> pd.Series: ...
