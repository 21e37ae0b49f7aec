"""cde-bars: Numba bar builders (time, tick, volume, dollar, imbalance, run), out of core.

Public API (lazy: importing the package costs nothing until a name is used)::

    build_bars(trades, bar, *, flush=False, ts_unit=None, **params) -> pandas.DataFrame   # notebooks
    aggregate_lake(request, lake=None, executor=None, progress=None, cancel=None) -> AggregateReport
    read_bars(lake, spec_id, exchange, market, symbols, start=None, end=None) -> panel (ts, symbol)
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "build_bars": "cde_bars.notebook",
    "AggregateRequest": "cde_bars.aggregate",
    "AggregateReport": "cde_bars.aggregate",
    "aggregate_lake": "cde_bars.aggregate",
    "read_bars": "cde_bars.reader",
    "builder_by_name": "cde_bars.catalog",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'cde_bars' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
