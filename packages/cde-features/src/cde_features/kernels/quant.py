"""Kernels of the quant-desk factors whose recursions or windows numpy cannot express in one pass.

Same conventions as :mod:`cde_features.kernels.rolling`: ``out[i]`` uses inputs up to ``i`` only, a
NaN inside a window yields NaN, the first values before a window is full are NaN.

* KAMA (Kaufman 1995, *Smarter Trading*; TA-Lib ``KAMA``): efficiency ratio
  ``ER = |C_t − C_{t−n}| / Σ|C_i − C_{i−1}|`` over n changes, smoothing constant
  ``sc = (ER (2/(fast+1) − 2/(slow+1)) + 2/(slow+1))²``, ``KAMA_t = KAMA_{t−1} + sc (C_t − KAMA_{t−1})``,
  seeded with ``KAMA_{n−1} = C_{n−1}`` so the first value is at bar n; ER = 1 when the path is 0.
* Rolling maximum drawdown: over the closes of the last w bars, ``max_i (1 − C_i / max_{j≤i} C_j)``.
* EWMA variance (RiskMetrics 1996): ``σ²_t = (1 − α) σ²_{t−1} + α r_t²``, seeded with ``r²`` of the
  first return.
* Lagged mean: ``mean_{k=1..c} x[t + lead − k·period]`` (seasonality: the same slot on past cycles).
"""

from __future__ import annotations

import numpy as np
from numba import njit

NUMBA_CACHE_INPUTS = "e3b0c44298fc1c14"  # sha256 of the cde code it imports; tools/numba_cache_stamps.py

_JIT = {"nogil": True, "cache": True}


@njit(**_JIT)
def kama(close: np.ndarray, n: int, fast: int, slow: int) -> np.ndarray:
    size = close.shape[0]
    out = np.full(size, np.nan)
    if size <= n:
        return out
    fast_sc = 2.0 / (fast + 1.0)
    slow_sc = 2.0 / (slow + 1.0)
    path = 0.0
    for i in range(1, n + 1):
        path += abs(close[i] - close[i - 1])
    prev = close[n - 1]
    for i in range(n, size):
        if i > n:
            path += abs(close[i] - close[i - 1]) - abs(close[i - n] - close[i - n - 1])
            if i % n == 0:  # re-sum now and then so add/subtract rounding cannot drift
                path = 0.0
                for j in range(i - n + 1, i + 1):
                    path += abs(close[j] - close[j - 1])
        move = abs(close[i] - close[i - n])
        er = 1.0 if path <= move else move / path  # TA-Lib: a flat window counts as fully efficient
        sc = er * (fast_sc - slow_sc) + slow_sc
        prev = prev + sc * sc * (close[i] - prev)
        out[i] = prev
    return out


@njit(**_JIT)
def rolling_max_drawdown(close: np.ndarray, w: int) -> np.ndarray:
    size = close.shape[0]
    out = np.full(size, np.nan)
    for i in range(w - 1, size):
        peak = close[i - w + 1]
        worst = 0.0
        bad = False
        for j in range(i - w + 1, i + 1):
            c = close[j]
            if np.isnan(c):
                bad = True
                break
            if c > peak:
                peak = c
            dd = 1.0 - c / peak
            if dd > worst:
                worst = dd
        if not bad:
            out[i] = worst
    return out


@njit(**_JIT)
def ewma_variance(r: np.ndarray, alpha: float) -> np.ndarray:
    size = r.shape[0]
    out = np.full(size, np.nan)
    prev = np.nan
    for i in range(size):
        v = r[i]
        if np.isnan(v):
            continue
        prev = v * v if np.isnan(prev) else (1.0 - alpha) * prev + alpha * v * v
        out[i] = prev
    return out


@njit(**_JIT)
def lagged_mean(x: np.ndarray, lead: int, period: int, cycles: int) -> np.ndarray:
    size = x.shape[0]
    out = np.full(size, np.nan)
    for t in range(cycles * period - lead, size):
        acc = 0.0
        for k in range(1, cycles + 1):
            acc += x[t + lead - k * period]
        out[t] = acc / cycles
    return out
