"""Row-wise (per timestamp) cross-sectional transforms on (T, N) arrays, NaN-aware and vectorised.

Signals and strategies share these so that ranking rules are the same everywhere: NaN is never
selected; picking the top or bottom N breaks ties by symbol order (one must pick N), while scores and
quantile buckets give equal values equal weights.
"""

from __future__ import annotations

import numpy as np


def ascending_ranks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0-based ascending rank of each value within its row (ties: column order) and the row counts of
    valid values; NaNs rank after every valid value."""
    valid = ~np.isnan(x)
    order = np.argsort(np.where(valid, x, np.inf), axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(x.shape[1])[None, :].repeat(x.shape[0], axis=0), axis=1)
    return ranks, valid.sum(axis=1)


def average_ranks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0-based ascending rank of each value within its row, equal values sharing the mean of their
    ranks (as ``pandas.rank(method="average")``), and the row counts of valid values. Used where a
    rank becomes a size (scores, quantile buckets): a factor that does not tell two symbols apart must
    not size them apart by their names."""
    valid = ~np.isnan(x)
    filled = np.where(valid, x, np.inf)
    order = np.argsort(filled, axis=1, kind="stable")
    ordered = np.take_along_axis(filled, order, axis=1)
    n = x.shape[1]
    pos = np.broadcast_to(np.arange(n), x.shape)
    first = np.ones(x.shape, dtype=bool)
    first[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    last = np.ones(x.shape, dtype=bool)
    last[:, :-1] = ordered[:, :-1] != ordered[:, 1:]
    start = np.maximum.accumulate(np.where(first, pos, 0), axis=1)
    end = np.minimum.accumulate(np.where(last, pos, n - 1)[:, ::-1], axis=1)[:, ::-1]
    ranks = np.empty(x.shape)
    np.put_along_axis(ranks, order, (start + end) / 2.0, axis=1)
    return ranks, valid.sum(axis=1)


def rank_scores(x: np.ndarray) -> np.ndarray:
    """Ranks scaled to [-1, 1] per row (lowest −1, highest +1), ties at their average rank (a row of
    equal values scores 0); NaN stays NaN."""
    ranks, count = average_ranks(x)
    denom = np.maximum(count - 1, 1)[:, None]
    out = 2.0 * ranks / denom - 1.0
    return np.where(np.isnan(x), np.nan, np.where(count[:, None] > 1, out, 0.0))


def zscores(x: np.ndarray) -> np.ndarray:
    """(x − row mean) / row std (ddof 0); rows with fewer than two values or zero spread → 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nanmean(np.where(np.isnan(x).all(axis=1, keepdims=True), 0.0, x), axis=1, keepdims=True)
        std = np.sqrt(np.nanmean((x - mean) ** 2, axis=1, keepdims=True))
        z = np.where(std > 0, (x - mean) / np.where(std > 0, std, 1.0), 0.0)
    return np.where(np.isnan(x), np.nan, z)


def top_bottom_weights(x: np.ndarray, n_long: int, n_short: int, long_gross: float = 0.5,
                       short_gross: float = 0.5) -> np.ndarray:
    """Equal weights: +long_gross/n_long on the n_long highest values, −short_gross/n_short on the
    n_short lowest; rows with fewer than n_long + n_short valid values are flat (0)."""
    ranks, count = ascending_ranks(x)
    valid = ~np.isnan(x)
    c = count[:, None]
    w = np.zeros(x.shape)
    if n_long > 0:
        w = np.where(valid & (ranks >= c - n_long), long_gross / n_long, w)
    if n_short > 0:
        w = np.where(valid & (ranks < n_short), -short_gross / n_short, w)
    return np.where(c >= n_long + n_short, w, 0.0)


def quantile_weights(x: np.ndarray, quantiles: int, long_gross: float = 0.5, short_gross: float = 0.5,
                     ) -> np.ndarray:
    """Long the top quantile bucket, short the bottom one, equal weight within each bucket.

    Bucket of a value = floor(rank × quantiles / count) (0 = lowest), so buckets hold counts that
    differ by at most one; equal values share their average rank and so a bucket (a row of equal
    values has no top or bottom and is flat)."""
    ranks, count = average_ranks(x)
    c = np.maximum(count, 1)[:, None]
    bucket = np.where(np.isnan(x), -1, np.floor(ranks * quantiles / c))
    top = bucket == quantiles - 1
    bottom = bucket == 0
    n_top = np.maximum(top.sum(axis=1, keepdims=True), 1)
    n_bot = np.maximum(bottom.sum(axis=1, keepdims=True), 1)
    w = np.where(top, long_gross / n_top, 0.0) + np.where(bottom, -short_gross / n_bot, 0.0)
    return np.where(count[:, None] >= quantiles, w, 0.0)
