"""Factors: bars → feature columns, never looking ahead."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

if TYPE_CHECKING:
    import pandas as pd


@runtime_checkable
class Factor(Protocol):
    """A factor computed from one symbol's bars (``cross_sectional = False``) or from a panel of
    all symbols at each timestamp (``cross_sectional = True``).

    * ``name`` — unique registry name; ``group`` — family shown by ``cde features list``
      (``returns``, ``volatility``, ``momentum``, ``volume_flow``, ``microstructure``,
      ``distribution``, ``alphas``, ``cross_sectional`` or the plugin's own); ``summary`` — one line.
    * ``inputs`` — the bar columns (:data:`cde_core.schemas.BARS_SCHEMA`) it reads.
    * ``Params`` — pydantic model; every field has a default when the factor should join the
      ``default`` feature set automatically.
    * ``lookback(params)`` — bars before the first valid value; the calculator sets the first
      ``lookback`` rows of each symbol to NaN and never drops or fills them.
    * ``columns(params)`` — deterministic output names, e.g. ``[f"{name}_{params.window}"]``.
    * ``compute(bars, params)`` receives bars indexed by ``ts`` (one symbol, oldest first) or by
      ``(ts, symbol)`` (panel: bars plus every feature column computed before it) and returns a
      DataFrame with the same index and exactly ``columns(params)``.

    A value at a row may depend only on that row and earlier rows (for panel factors: on any symbol
    at timestamps up to that row's). cde-features proves this for every registered factor by
    changing and deleting all data after a random time.

    Implementations may add fast paths used instead of ``compute`` when present:
    ``compute_arrays(data: Mapping[str, ndarray], params) -> list[ndarray]`` (time series) or
    ``compute_grid(grids: Mapping[str, ndarray(time, symbol)], params) -> list[ndarray]`` together
    with ``grid_inputs(params)`` (panel).
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
