"""Optional, typed base classes for plugin authors: the shortest correct factor or strategy.

The protocols in :mod:`cde_core.contracts` stay the contract (any plain class with the right
attributes works). These bases only remove boilerplate: the generic argument *is* the ``Params``
model, and every method receives an instance of it, already validated by cde — never call
``Params.model_validate`` yourself::

    class HurstParams(BaseModel):
        window: int = Field(64, ge=8, description="bars in the window")

    class Hurst(Factor[HurstParams]):
        name = "hurst"
        summary = "rescaled-range Hurst exponent of log returns"
        inputs = ("close",)

        def lookback(self, params: HurstParams) -> int:
            return params.window

        def values(self, bars: pd.DataFrame, params: HurstParams) -> pd.Series:
            ...  # one Series on bars.index; named ``hurst_64`` by columns()

or, for a one-function factor, the :func:`factor` decorator.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from cde_core.contracts.base import NoParams

if TYPE_CHECKING:
    import pandas as pd

P = TypeVar("P", bound=BaseModel)


class Component(Generic[P]):
    """``name``, ``summary`` and ``Params`` (taken from the generic argument)."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    Params: ClassVar[type[BaseModel]] = NoParams

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "Params" in cls.__dict__:
            return
        for base in getattr(cls, "__orig_bases__", ()):
            for arg in typing.get_args(base):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    cls.Params = arg
                    return


class Factor(Component[P]):
    """A time-series factor (one symbol's bars, oldest first) or, with ``cross_sectional = True``,
    a panel factor (bars indexed by ``(ts, symbol)``).

    Implement ``values`` (one Series, or a DataFrame / mapping with one entry per column) or, for
    full control, ``compute``. ``columns`` defaults to ``name`` followed by the parameter values
    (``hurst_64``); ``lookback`` defaults to 0 (override it when the first values need history).
    """

    group: ClassVar[str] = "plugin"
    inputs: ClassVar[tuple[str, ...]] = ("close",)
    cross_sectional: ClassVar[bool] = False

    def lookback(self, params: P) -> int:
        return 0

    def columns(self, params: P) -> list[str]:
        suffix = "_".join(str(v) for v in params.model_dump().values())
        return [f"{self.name}_{suffix}" if suffix else self.name]

    def values(self, bars: pd.DataFrame, params: P) -> pd.Series | pd.DataFrame | Mapping[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement values() or compute()")

    def compute(self, bars: pd.DataFrame, params: P) -> pd.DataFrame:
        import pandas as pd

        columns = self.columns(params)
        result = self.values(bars, params)
        if not isinstance(result, (pd.DataFrame, Mapping)):  # a Series or an array: the one column
            if len(columns) != 1:
                raise ValueError(f"values() returned one column for the {len(columns)} of columns()")
            result = {columns[0]: result}
        missing = [c for c in columns if c not in result]
        if missing:
            raise ValueError(f"values() returned no column(s) {', '.join(missing)}")
        return pd.DataFrame({c: _aligned(result[c], bars.index) for c in columns}, index=bars.index)


def _aligned(values: Any, index: pd.Index) -> Any:
    """Values on ``index``: a Series must already be on it (no silent realignment), an array must
    have its length."""
    import numpy as np
    import pandas as pd

    if isinstance(values, pd.Series):
        if not values.index.equals(index):
            raise ValueError("values() returned a Series on another index than the bars'")
        return values.to_numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (len(index),):
        raise ValueError(f"values() returned shape {array.shape} for {len(index)} bars")
    return array


class Strategy(Component[P]):
    """A strategy: implement ``target_weights(panel, params)``; ``engine`` names the engine that
    runs it (``cross_sectional`` by default)."""

    engine: ClassVar[str] = "cross_sectional"

    def target_weights(self, panel: pd.DataFrame, params: P) -> pd.Series:
        raise NotImplementedError(f"{type(self).__name__} must implement target_weights()")


class SignalGenerator(Component[P]):
    """A signal generator: implement ``generate(features, params)``."""

    def generate(self, features: pd.DataFrame, params: P) -> pd.Series:
        raise NotImplementedError(f"{type(self).__name__} must implement generate()")


def factor(*, inputs: tuple[str, ...] = ("close",), params: type[BaseModel] = NoParams,
           lookback: int | Callable[[Any], int] = 0, name: str | None = None, summary: str | None = None,
           group: str = "plugin", cross_sectional: bool = False) -> Callable[[Callable[..., Any]], Factor[Any]]:
    """Turn ``fn(bars, params) -> Series`` into a registered-ready factor instance::

        @factor(inputs=("close",), params=WindowParams, lookback=lambda p: p.window)
        def zscore(bars, p):
            '''close z-score over a rolling window'''
            mean = bars.close.rolling(p.window).mean()
            return (bars.close - mean) / bars.close.rolling(p.window).std()

        register(zscore)   # name "zscore", columns ["zscore_24"], summary from the docstring
    """

    def wrap(fn: Callable[..., Any]) -> Factor[Any]:
        doc = (fn.__doc__ or "").strip().splitlines()
        attributes: dict[str, Any] = {
            "name": name or fn.__name__, "summary": summary or (doc[0] if doc else fn.__name__),
            "inputs": tuple(inputs), "group": group, "cross_sectional": cross_sectional, "Params": params,
            "values": lambda self, bars, p: fn(bars, p),
            "lookback": lambda self, p: int(lookback(p) if callable(lookback) else lookback),
            "__module__": fn.__module__, "__doc__": fn.__doc__,
        }
        cls = type(f"{fn.__name__}_factor", (Factor,), attributes)
        return typing.cast(Factor[Any], cls())

    return wrap


__all__ = ["Component", "Factor", "SignalGenerator", "Strategy", "factor"]
