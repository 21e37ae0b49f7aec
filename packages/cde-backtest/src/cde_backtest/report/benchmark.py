"""The benchmark a run is compared with."""

from __future__ import annotations

import numpy as np
import pandas as pd


def benchmark_nav(close: pd.DataFrame, initial_cash: float, symbol: str | None = None) -> pd.Series:
    """Buy and hold ``symbol``, or an equal-weight basket rebalanced every bar (mean simple return of
    the symbols that have a bar), scaled to the initial cash and valued at each bar's close."""
    close = close.ffill()
    if symbol is not None and symbol in close.columns:
        first = close[symbol].dropna()
        return close[symbol] / (first.iloc[0] if len(first) else np.nan) * initial_cash
    rets = close.pct_change(fill_method=None)
    rets.iloc[0] = 0.0
    return initial_cash * (1.0 + rets.mean(axis=1).fillna(0.0)).cumprod()


def benchmark_label(symbol: str | None) -> str:
    return f"buy and hold {symbol}" if symbol else "equal-weight basket of the run's symbols (rebalanced each bar)"
