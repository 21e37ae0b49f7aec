"""Signal generators: a feature panel → scores or target weights per (time, symbol)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

if TYPE_CHECKING:
    import pandas as pd


@runtime_checkable
class SignalGenerator(Protocol):
    """``generate(features, params)`` takes a panel indexed by ``(ts, symbol)`` (sorted; bars and
    feature columns) and returns a float Series on the same index: scores (e.g. cross-sectional ranks
    in [-1, 1]), per-asset signals in [-1, 1], or target weights — the generator's summary says which.
    NaN means "no opinion". The value at ``ts`` may use rows up to and including ``ts`` only.
    Generators may combine other registered generators by name (ensembles)."""

    name: str
    summary: str
    Params: ClassVar[type[BaseModel]]

    def generate(self, features: pd.DataFrame, params: BaseModel) -> pd.Series: ...
