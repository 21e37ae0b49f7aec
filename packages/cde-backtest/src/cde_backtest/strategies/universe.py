"""Point-in-time universes computed from the bars panel itself."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cde_backtest.cross_section import ascending_ranks
from cde_backtest.engines.common import UNIVERSE_COLUMN


def trailing_sum(values: np.ndarray, window: int) -> np.ndarray:
    """Sum of the last ``window`` rows up to and including each row (missing rows count as 0)."""
    filled = np.nan_to_num(values, nan=0.0)
    csum = np.cumsum(filled, axis=0)
    out = csum.copy()
    out[window:] -= csum[:-window]
    return out


def top_n_by_trailing_volume(quote_volume: np.ndarray, window: int, n: int) -> np.ndarray:
    """(T, N) mask of the ``n`` assets with the largest quote volume over the last ``window`` bars.

    Row t uses bars ≤ t only (known at bar t's close, when the decision is taken). Assets with no
    bar at t are never members; ties go to the earlier symbol.
    """
    volume = trailing_sum(quote_volume, window)
    volume = np.where(np.isnan(quote_volume) | (volume <= 0), np.nan, volume)
    ranks, count = ascending_ranks(volume)
    return ~np.isnan(volume) & (ranks >= (count[:, None] - n))


def membership(panel: pd.DataFrame, wide_index: pd.Index, symbols: pd.Index) -> np.ndarray | None:
    """The panel's given universe (``in_universe`` column) as a wide bool array, or None."""
    if UNIVERSE_COLUMN not in panel.columns:
        return None
    mask = panel[UNIVERSE_COLUMN].astype(np.float64).unstack("symbol").reindex(index=wide_index,
                                                                               columns=symbols)
    return np.nan_to_num(mask.to_numpy(), nan=0.0) > 0.5
