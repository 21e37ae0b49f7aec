"""Kernels for classic technical indicators whose recursions pandas expresses slowly.

Formulas (conventions documented in docs/features.md):

* True range (Wilder 1978): ``TR[i] = max(H[i] − L[i], |H[i] − C[i−1]|, |L[i] − C[i−1]|)`` for i ≥ 1.
* RSI (Wilder 1978): Wilder-smoothed gains / losses of close-to-close changes, first value at bar n.
* ADX / +DI / −DI (Wilder 1978): directional movement and true range kept as Wilder's running sums
  seeded as TA-Lib seeds them (:func:`cde_features.kernels.smoothing.wilder_sum`: +DI / −DI from bar
  n); ADX is the RMA of DX, first value at bar 2n − 1 (as TA-Lib).
* Stochastic / Williams %R / CCI / MFI: see the factor docstrings in ``momentum`` and ``volume_flow``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cde_features.kernels.smoothing import wilder, wilder_sum

NUMBA_CACHE_INPUTS = "db84bd48dd7f9abb"  # sha256 of the cde code it imports; tools/numba_cache_stamps.py

_JIT = {"nogil": True, "cache": True}


@njit(**_JIT)
def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    n = high.shape[0]
    out = np.full(n, np.nan)
    for i in range(1, n):
        prev = close[i - 1]
        out[i] = max(high[i] - low[i], abs(high[i] - prev), abs(low[i] - prev))
    return out


@njit(**_JIT)
def rsi(close: np.ndarray, n: int) -> np.ndarray:
    size = close.shape[0]
    gain = np.full(size, np.nan)
    loss = np.full(size, np.nan)
    for i in range(1, size):
        d = close[i] - close[i - 1]
        gain[i] = d if d > 0 else 0.0
        loss[i] = -d if d < 0 else 0.0
    avg_gain = wilder(gain, n)
    avg_loss = wilder(loss, n)
    out = np.full(size, np.nan)
    for i in range(size):
        g = avg_gain[i]
        lo = avg_loss[i]
        if np.isnan(g) or np.isnan(lo):
            continue
        if lo == 0.0:
            out[i] = 50.0 if g == 0.0 else 100.0
        else:
            out[i] = 100.0 - 100.0 / (1.0 + g / lo)
    return out


@njit(**_JIT)
def directional(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int) -> tuple:
    """(+DI, −DI, ADX) as TA-Lib's PLUS_DI, MINUS_DI and ADX (see the module docstring)."""
    size = high.shape[0]
    plus_dm = np.full(size, np.nan)
    minus_dm = np.full(size, np.nan)
    for i in range(1, size):
        up = high[i] - high[i - 1]
        down = low[i - 1] - low[i]
        plus_dm[i] = up if (up > down and up > 0) else 0.0
        minus_dm[i] = down if (down > up and down > 0) else 0.0
    tr = wilder_sum(true_range(high, low, close), n)
    pdm = wilder_sum(plus_dm, n)
    mdm = wilder_sum(minus_dm, n)
    plus_di = np.full(size, np.nan)
    minus_di = np.full(size, np.nan)
    dx = np.full(size, np.nan)
    for i in range(size):
        if np.isnan(tr[i]) or tr[i] <= 0.0:
            continue
        p = 100.0 * pdm[i] / tr[i]
        m = 100.0 * mdm[i] / tr[i]
        plus_di[i] = p
        minus_di[i] = m
        dx[i] = 0.0 if p + m == 0.0 else 100.0 * abs(p - m) / (p + m)
    return plus_di, minus_di, wilder(dx, n)


@njit(**_JIT)
def rolling_mean_abs_dev(x: np.ndarray, w: int) -> np.ndarray:
    """Mean absolute deviation from the window mean (CCI's denominator)."""
    size = x.shape[0]
    out = np.full(size, np.nan)
    for i in range(w - 1, size):
        m = 0.0
        for j in range(i - w + 1, i + 1):
            m += x[j]
        m /= w
        acc = 0.0
        for j in range(i - w + 1, i + 1):
            acc += abs(x[j] - m)
        out[i] = acc / w
    return out


@njit(**_JIT)
def obv(close: np.ndarray, volume: np.ndarray) -> np.ndarray:
    """On-balance volume (Granville 1963), starting at 0 on the first bar."""
    size = close.shape[0]
    out = np.full(size, np.nan)
    if size == 0:
        return out
    acc = 0.0
    out[0] = 0.0
    for i in range(1, size):
        d = close[i] - close[i - 1]
        if d > 0:
            acc += volume[i]
        elif d < 0:
            acc -= volume[i]
        out[i] = acc
    return out
