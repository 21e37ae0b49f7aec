"""The benchmark a run is compared with."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cde_core.errors import DataError
from cde_core.suggest import did_you_mean


def loaded_benchmark(close: pd.DataFrame, symbol: str | None) -> str | None:
    """``symbol`` if the run loaded it; a DataError naming the nearest loaded symbols otherwise (a named
    benchmark is never quietly replaced by the equal-weight basket)."""
    if symbol is not None and symbol not in close.columns:
        near = did_you_mean(symbol, map(str, close.columns), what="the run's symbols")
        raise DataError(f"benchmark '{symbol}' is not among the run's symbols", where="benchmark",
                        hint=f"{near}; add it to symbols, or leave benchmark out for the equal-weight basket")
    return symbol


def benchmark_nav(close: pd.DataFrame, initial_cash: float, symbol: str | None = None) -> pd.Series:
    """Buy and hold ``symbol`` (cash until its first close, so a symbol listed after the run starts
    still has a benchmark curve and metrics), or an equal-weight basket rebalanced every bar (mean
    simple return of the symbols that have a bar at that time), scaled to the initial cash and valued
    at each bar's close. ``close`` is NaN where a symbol has no bar: a symbol not yet listed or
    delisted is not in the basket (a delisted coin is not held at its last price as a zero-return
    asset), and a symbol's move over a missing bar counts on its next bar."""
    present = close.notna()
    close = close.ffill()
    if loaded_benchmark(close, symbol) is not None:  # cash until its first close (a late listing)
        first = close[symbol].dropna()
        held = close[symbol] / (first.iloc[0] if len(first) else np.nan) * initial_cash
        return held.fillna(initial_cash) if len(first) else held
    rets = close.pct_change(fill_method=None).where(present)
    rets.iloc[0] = 0.0
    return initial_cash * (1.0 + rets.mean(axis=1).fillna(0.0)).cumprod()


def benchmark_label(symbol: str | None) -> str:
    return f"buy and hold {symbol}" if symbol else "equal-weight basket of the run's symbols (rebalanced each bar)"
