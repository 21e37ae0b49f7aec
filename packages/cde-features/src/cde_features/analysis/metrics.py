"""Per-timestamp factor statistics on wide (time × symbol) frames.

Definitions (as in alphalens; Grinold & Kahn 2000 for IC):

* forward return ``fwd_h[t] = close[t + h] / close[t] − 1`` per symbol (bars, not days);
* IC[t] = Pearson correlation across symbols of the factor at t and ``fwd_h[t]``; rank IC[t] the
  Spearman correlation (Pearson of cross-sectional ranks); NaN with fewer than 3 symbols;
* quantiles: at each t the symbols with both values are split by factor rank into q equal groups
  (``ceil(rank_pct · q)``, ties at their average rank, so equal factor values always share a quantile
  and a factor that does not tell two symbols apart never puts one in the top and one in the bottom);
  quantile return = mean ``fwd_h`` of its members, averaged over t (NaN for a quantile never filled);
* turnover of a quantile = share of its members at t that were not in it at t − 1;
* rank autocorrelation = Spearman correlation across the symbols with a factor value at both t and
  t − lag.

"t − 1" and "t + h" are rows of the frames: for time bars the caller lays the frames on the bar grid
(:func:`on_bar_grid`), so a bar missing from the panel is a NaN row, never a shortcut to the next one.

Forward returns with h > 1 overlap, so t-statistics over-state significance (no Newey–West here).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from cde_core.errors import DataError

MIN_NAMES = 3


def on_bar_grid(wide: pd.DataFrame, step_ns: int | None) -> pd.DataFrame:
    """A (time × symbol) frame with one row per slot of the bar grid ``first + k · step`` (NaN rows for
    bars the panel lacks); unchanged when ``step_ns`` is None (threshold bars have no grid)."""
    if step_ns is None or wide.empty:
        return wide
    step = pd.Timedelta(step_ns, unit="ns")
    grid = pd.date_range(wide.index[0], wide.index[-1], freq=step, name=wide.index.name)
    off = wide.index.difference(grid)
    if len(off):
        raise DataError(f"bar at {off[0]} is not on the {to_offset(step).freqstr} grid of the bars",
                        where="factor analysis",
                        hint="analyse with the bars' own interval (bar_interval=...), or None for threshold bars")
    return wide.reindex(grid)


def forward_returns(close: pd.Series, horizons: list[int], *, step_ns: int | None = None) -> pd.DataFrame:
    """Forward simple returns per symbol for each horizon (columns ``fwd_<h>``), same index as close;
    with ``step_ns`` (time bars) *h* bars on the grid, NaN where the bar *h* slots ahead is missing."""
    wide = close.unstack("symbol") if "symbol" in (close.index.names or []) else close.unstack(1)
    wide = on_bar_grid(wide, step_ns)
    out = {}
    for h in horizons:
        fwd = wide.shift(-h) / wide - 1.0
        out[f"fwd_{h}"] = fwd.stack(future_stack=True).reindex(close.index)
    return pd.DataFrame(out, index=close.index)


def _row_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    mask = np.isfinite(a) & np.isfinite(b)
    n = mask.sum(axis=1)
    a0 = np.where(mask, a, 0.0)
    b0 = np.where(mask, b, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ma = a0.sum(axis=1) / n
        mb = b0.sum(axis=1) / n
        da = np.where(mask, a - ma[:, None], 0.0)
        db = np.where(mask, b - mb[:, None], 0.0)
        cov = (da * db).sum(axis=1)
        den = np.sqrt((da * da).sum(axis=1) * (db * db).sum(axis=1))
        r = cov / den
    r[(n < MIN_NAMES) | ~np.isfinite(r)] = np.nan
    return r


def _joint_ranks(a: pd.DataFrame, b: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    mask = a.notna() & b.notna()
    return (a.where(mask).rank(axis=1).to_numpy(dtype=np.float64),
            b.where(mask).rank(axis=1).to_numpy(dtype=np.float64))


def information_coefficients(factor: pd.DataFrame, fwd: pd.DataFrame) -> pd.DataFrame:
    """IC and rank IC per timestamp (index = factor's time index)."""
    fwd = fwd.reindex_like(factor)
    ic = _row_pearson(factor.to_numpy(dtype=np.float64), fwd.to_numpy(dtype=np.float64))
    ra, rb = _joint_ranks(factor, fwd)
    return pd.DataFrame({"ic": ic, "rank_ic": _row_pearson(ra, rb)}, index=factor.index)


def quantile_labels(factor: pd.DataFrame, fwd: pd.DataFrame, quantiles: int) -> pd.DataFrame:
    mask = factor.notna() & fwd.reindex_like(factor).notna()
    pct = factor.where(mask).rank(axis=1, pct=True, method="average")  # ties share a quantile
    labels = np.ceil(pct * quantiles).clip(1, quantiles)
    count = mask.sum(axis=1)
    return labels.where(count >= quantiles, axis=0)


def quantile_returns_by_time(factor: pd.DataFrame, fwd: pd.DataFrame, quantiles: int) -> pd.DataFrame:
    """Mean forward return of each quantile's members at each timestamp (columns 1 … q; NaN where
    fewer than q symbols have both values)."""
    labels = quantile_labels(factor, fwd, quantiles)
    fwd = fwd.reindex_like(factor)
    return pd.DataFrame({q: fwd.where(labels == q).mean(axis=1) for q in range(1, quantiles + 1)},
                        index=factor.index)


def quantile_mean_returns(factor: pd.DataFrame, fwd: pd.DataFrame, quantiles: int) -> pd.Series:
    """Mean forward return of each quantile (1 = lowest factor values), averaged over time."""
    return quantile_returns_by_time(factor, fwd, quantiles).mean().rename("mean_fwd_return")


def cumulative_quantile_returns(by_time: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Growth of 1 invested in each quantile, and in the top-minus-bottom spread (column ``spread``),
    compounding only every ``horizon``-th timestamp so h-bar forward returns do not overlap."""
    sampled = by_time.iloc[::horizon]
    spread = sampled[sampled.columns[-1]] - sampled[sampled.columns[0]]
    frame = sampled.assign(spread=spread)
    return (1.0 + frame.fillna(0.0)).cumprod() - 1.0


def quantile_turnover_series(factor: pd.DataFrame, quantiles: int, quantile: int) -> pd.Series:
    """Share of a quantile's members at t that were not members at t − 1 (NaN where either is empty)."""
    labels = quantile_labels(factor, factor, quantiles)
    member = (labels == quantile).to_numpy()
    prev = np.vstack([np.zeros((1, member.shape[1]), dtype=bool), member[:-1]])
    size = member.sum(axis=1)
    prev_size = prev.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        turnover = 1.0 - (member & prev).sum(axis=1) / size
    turnover[(size == 0) | (prev_size == 0)] = np.nan
    return pd.Series(turnover, index=factor.index, name=f"turnover_q{quantile}")


def quantile_turnover(factor: pd.DataFrame, quantiles: int, quantile: int) -> float:
    """Mean share of a quantile's members at t that were not members at t − 1."""
    series = quantile_turnover_series(factor, quantiles, quantile).dropna()
    return float(series.mean()) if len(series) else float("nan")


def rank_autocorrelation_series(factor: pd.DataFrame, lag: int = 1) -> pd.Series:
    """Cross-sectional correlation of factor ranks at t and t − lag, per timestamp."""
    now, before = _joint_ranks(factor, factor.shift(lag))  # ranked among the symbols present at both
    r = _row_pearson(now, before)
    return pd.Series(r, index=factor.index, name=f"rank_autocorrelation_{lag}")


def rank_autocorrelation(factor: pd.DataFrame, lag: int = 1) -> float:
    """Mean cross-sectional correlation of factor ranks at t and t − lag."""
    r = rank_autocorrelation_series(factor, lag).to_numpy()
    return float(np.nanmean(r)) if np.isfinite(r).any() else float("nan")


def summarize_ic(series: pd.Series) -> dict[str, float]:
    """Mean, std, information ratio (mean / std), t-statistic and hit rate of an IC series."""
    s = series.dropna()
    n = len(s)
    mean = float(s.mean()) if n else float("nan")
    std = float(s.std(ddof=1)) if n > 1 else float("nan")
    ir = mean / std if n > 1 and std > 0 else float("nan")
    return {"mean": mean, "std": std, "ir": ir, "t": ir * np.sqrt(n) if n > 1 else float("nan"),
            "hit_rate": float((s > 0).mean()) if n else float("nan"), "n": float(n)}
