"""Measurements of the simulated market's stylised facts (used by the docs' numbers and the tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def weekly_momentum_rank_ic(closes: pd.DataFrame, *, lookback_days: int = 28,
                            horizon_days: int = 7) -> pd.Series:
    """Cross-sectional Spearman IC of trailing returns vs next-period returns, one value per week.

    ``closes``: daily closes, one column per symbol. At every ``horizon_days``-th day t (from the
    first day with a full lookback), rank symbols by log(close[t] / close[t - lookback]) and by
    log(close[t + horizon] / close[t]); the IC is the Pearson correlation of the two rank vectors.
    """
    log_close = np.log(closes.to_numpy(dtype=float))
    anchors = np.arange(lookback_days, len(closes) - horizon_days, horizon_days)
    past = log_close[anchors] - log_close[anchors - lookback_days]
    future = log_close[anchors + horizon_days] - log_close[anchors]
    past_rank = past.argsort(axis=1).argsort(axis=1).astype(float)
    future_rank = future.argsort(axis=1).argsort(axis=1).astype(float)
    past_rank -= past_rank.mean(axis=1, keepdims=True)
    future_rank -= future_rank.mean(axis=1, keepdims=True)
    ic = (past_rank * future_rank).sum(axis=1) / np.sqrt(
        (past_rank**2).sum(axis=1) * (future_rank**2).sum(axis=1))
    return pd.Series(ic, index=closes.index[anchors], name="rank_ic")
