"""Long (ts, symbol) panels ↔ wide (T, N) arrays for the signal and strategy code."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cde_core.errors import DataError
from cde_core.suggest import did_you_mean


def column_wide(panel: pd.DataFrame, column: str, *, where: str) -> pd.DataFrame:
    """One panel column as a wide frame (ts × symbol)."""
    if column not in panel.columns:
        raise DataError(f"panel has no column '{column}'", where=where,
                        hint=did_you_mean(column, map(str, panel.columns), what="panel columns"))
    return panel[column].astype(np.float64).unstack("symbol")


def to_long(values: np.ndarray, like: pd.DataFrame, index: pd.MultiIndex) -> pd.Series:
    """A (T, N) array shaped like the wide frame ``like`` back to a Series on the panel ``index``."""
    frame = pd.DataFrame(values, index=like.index, columns=like.columns)
    return frame.stack(future_stack=True).reindex(index)
