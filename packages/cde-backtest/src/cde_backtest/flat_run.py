"""A run that never held a position is refused, not reported as a plausible 0 %.

A strategy whose inputs never fill in over the range (a 672-bar momentum on 480 bars, an all-NaN
factor column, more ``n_long + n_short`` than symbols, a rule that never fires, a weekly rebalance on
a four-day range) gives a flat NAV: total return 0.00 %, Sharpe 0.00 — numbers a quant could take for
a result. The run is stopped with what happened and the likely causes instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel

from cde_core.errors import DataError


class FlatRunError(DataError):
    """A run that never held a position: a sweep keeps it as a row without metrics, a single run stops."""


#: parameter names whose value is a panel column the strategy reads (momentum_ls, signals)
_COLUMN_PARAMS = ("factor", "column")


def refuse_flat_run(strategy: str, panel: pd.DataFrame, weights: pd.Series, n_fills: int,
                    params: BaseModel) -> None:
    """Raise :class:`FlatRunError` when the engine made no fill over the whole run."""
    if n_fills:
        return
    ts = panel.index.get_level_values("ts") if "ts" in panel.index.names else panel.index
    symbols = panel.index.get_level_values("symbol").unique() if "symbol" in panel.index.names else []
    span = f"{len(ts.unique())} bars of {len(symbols)} symbol(s)"
    if len(ts):
        span += f", {ts.min():%Y-%m-%d %H:%M} … {ts.max():%Y-%m-%d %H:%M} UTC"
    values = weights.to_numpy(dtype=np.float64, na_value=np.nan)
    if not np.any(np.isfinite(values) & (values != 0.0)):
        what = f"strategy {strategy} took no position on any of the {span}, so the run would report a flat 0 %"
        causes = [_all_nan_columns(panel, params),
                  "a lookback or window longer than the bars in the range",
                  "more assets asked for (n_long + n_short, universe_size) than symbols with data",
                  "a rule that never fires"]
    else:
        what = (f"strategy {strategy} asked for positions but none was filled over the {span}, so the run "
                "would report a flat 0 %")
        causes = ["the targets are flat on every rebalance bar of engine.rebalance, or none falls inside the "
                  "range (the final bar never decides)",
                  "targets only outside the universe, or below engine.min_trade_value"]
    hint = "likely: " + "; ".join(c for c in causes if c) + " — widen --start/--end or change the parameters"
    raise FlatRunError(what, where=f"strategy {strategy}", hint=hint)


def _all_nan_columns(panel: pd.DataFrame, params: BaseModel) -> str:
    """'column X is NaN on every bar' for a column parameter whose column is empty over the range."""
    nested = getattr(params, "params", None)  # signal_xs / signal_ts: the signal's own parameters
    given = {**(nested if isinstance(nested, dict) else {}), **params.model_dump()}
    for name in _COLUMN_PARAMS:
        column = given.get(name)
        if isinstance(column, str) and column in panel.columns and panel[column].isna().all():
            return f"{name} column '{column}' is NaN on every bar of the range"
    return ""
