"""Base classes of the built-in factors (third-party factors need only the core protocol).

Built-ins add a fast path the calculator uses instead of the DataFrame-based ``compute``:

* :class:`TimeSeriesFactor` — ``compute_arrays(data, params)`` maps one symbol's input columns
  (float64 numpy arrays, oldest first) to one array per output column.
* :class:`PanelFactor` — ``compute_grid(grids, params)`` maps (time × symbol) grids of its inputs
  to one grid per output column (cross-sectional ranks, 101-alphas, transforms of other features).

``compute`` (the :class:`cde_core.contracts.factor.Factor` protocol) is implemented on top of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, create_model

from cde_core.contracts.base import NoParams
from cde_core.errors import DataError

Arrays = Mapping[str, np.ndarray]
T = TypeVar("T")


class SymbolArrays(dict[str, np.ndarray]):
    """One symbol's input arrays, plus a cache of intermediates several factors share (one-bar log
    returns, true range, ...), so the calculator computes each of them once per symbol. Cached
    arrays are shared: treat them as read-only."""

    def __init__(self, data: Mapping[str, np.ndarray]) -> None:
        super().__init__(data)
        self.cache: dict[Any, Any] = {}


class PanelGrids(dict[str, np.ndarray]):
    """A panel factor's input grids (time × symbol) with ``symbols``, the names of the grid's columns
    (for factors that single out a symbol, e.g. BTC as the market)."""

    def __init__(self, grids: Mapping[str, np.ndarray], symbols: Any) -> None:
        super().__init__(grids)
        self.symbols = [str(s) for s in symbols]


def shared(data: Arrays, key: Any, make: Callable[[], T]) -> T:
    """``make()``, computed once per symbol when ``data`` is a :class:`SymbolArrays`."""
    cache = getattr(data, "cache", None)
    if cache is None:
        return make()
    value = cache.get(key)
    if value is None:
        value = cache[key] = make()
    return value


def window_params(default: int, description: str = "bars in the rolling window", *,
                  minimum: int = 2) -> type[BaseModel]:
    """A one-field pydantic model ``window: int`` (the usual factor parameter)."""
    return create_model(
        f"Window{default}Params",
        __config__=ConfigDict(extra="forbid"),
        window=(int, Field(default, ge=minimum, le=100_000, description=description)),
    )


class FactorBase:
    """Name, group, summary, inputs, ``Params`` and parameter validation."""

    name: str = ""
    group: str = ""
    summary: str = ""
    inputs: tuple[str, ...] = ()
    cross_sectional: bool = False
    Params: ClassVar[type[BaseModel]] = NoParams

    def params(self, params: BaseModel | Mapping[str, Any] | None = None) -> Any:
        """Validate ``params`` (a model of any class, a dict or None for the defaults)."""
        if params is None:
            return self.Params()
        if isinstance(params, BaseModel):
            if isinstance(params, self.Params):
                return params
            params = params.model_dump()
        return self.Params.model_validate(dict(params))

    def lookback(self, params: BaseModel) -> int:
        raise NotImplementedError

    def columns(self, params: BaseModel) -> list[str]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<factor {self.name}>"


class TimeSeriesFactor(FactorBase):
    """A factor of one symbol's bars."""

    def compute_arrays(self, data: Arrays, params: BaseModel) -> list[np.ndarray]:
        raise NotImplementedError

    def compute(self, bars: pd.DataFrame, params: BaseModel) -> pd.DataFrame:
        p = self.params(params)
        missing = [c for c in self.inputs if c not in bars.columns]
        if missing:
            raise DataError(f"factor {self.name} needs column(s) {', '.join(missing)}",
                            hint="pass bars in cde_core.schemas.BARS_SCHEMA")
        data = {c: bars[c].to_numpy(dtype=np.float64) for c in self.inputs}
        values = self.compute_arrays(data, p)
        return pd.DataFrame(dict(zip(self.columns(p), values, strict=True)), index=bars.index)


class WindowFactor(TimeSeriesFactor):
    """A time-series factor with one ``window`` parameter and one column ``<name>_<window>``."""

    Params: ClassVar[type[BaseModel]] = window_params(24)

    def warmup(self, window: int) -> int:
        """Bars before the first valid value, for a given window."""
        return window - 1

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        raise NotImplementedError

    def lookback(self, params: BaseModel) -> int:
        return self.warmup(self.params(params).window)

    def columns(self, params: BaseModel) -> list[str]:
        return [f"{self.name}_{self.params(params).window}"]

    def compute_arrays(self, data: Arrays, params: BaseModel) -> list[np.ndarray]:
        with np.errstate(divide="ignore", invalid="ignore"):
            return [np.asarray(self.calc(data, self.params(params).window), dtype=np.float64)]


class BarFactor(TimeSeriesFactor):
    """A parameterless time-series factor with a single column named like the factor."""

    warmup_bars: int = 0

    def calc(self, data: Arrays) -> np.ndarray:
        raise NotImplementedError

    def lookback(self, params: BaseModel) -> int:
        return self.warmup_bars

    def columns(self, params: BaseModel) -> list[str]:
        return [self.name]

    def compute_arrays(self, data: Arrays, params: BaseModel) -> list[np.ndarray]:
        with np.errstate(divide="ignore", invalid="ignore"):
            return [np.asarray(self.calc(data), dtype=np.float64)]


class PanelFactor(FactorBase):
    """A factor of the whole panel: each output cell may use all symbols up to its timestamp."""

    cross_sectional = True

    def compute_grid(self, grids: Arrays, params: BaseModel) -> list[np.ndarray]:
        raise NotImplementedError

    def grid_inputs(self, params: BaseModel) -> tuple[str, ...]:
        """Columns (bar columns or other features) the grids must hold; ``inputs`` by default."""
        return self.inputs

    def compute(self, bars: pd.DataFrame, params: BaseModel) -> pd.DataFrame:
        p = self.params(params)
        ts_codes, ts_values = pd.factorize(bars.index.get_level_values(0), sort=True)
        sym_codes, sym_values = pd.factorize(bars.index.get_level_values(1), sort=True)
        shape = (len(ts_values), len(sym_values))
        grids = PanelGrids({}, sym_values)
        for col in self.grid_inputs(p):
            if col not in bars.columns:
                raise DataError(f"factor {self.name} needs column '{col}'",
                                hint="compute the factor that produces it first")
            grid = np.full(shape, np.nan)
            grid[ts_codes, sym_codes] = bars[col].to_numpy(dtype=np.float64)
            grids[col] = grid
        with np.errstate(divide="ignore", invalid="ignore"):
            outputs = self.compute_grid(grids, p)
        return pd.DataFrame({c: g[ts_codes, sym_codes] for c, g in zip(self.columns(p), outputs, strict=True)},
                            index=bars.index)
