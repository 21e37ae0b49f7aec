"""Recursive smoothers: exponential moving averages seeded with a simple average.

An EMA here starts at the first non-NaN input: its first value is the simple mean of the first
``n`` inputs (Wilder 1978; the TA-Lib convention), later values follow
``ema[i] = alpha * x[i] + (1 - alpha) * ema[i - 1]``. A NaN input after the seed yields NaN and leaves
the state untouched. ``alpha = 2 / (span + 1)`` for Appel's EMA (MACD), ``1 / n`` for Wilder's RMA.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NUMBA_CACHE_INPUTS = "e3b0c44298fc1c14"  # sha256 of the cde code it imports; tools/numba_cache_stamps.py

_JIT = {"nogil": True, "cache": True}


@njit(**_JIT)
def ema_seeded(x: np.ndarray, n: int, alpha: float) -> np.ndarray:
    size = x.shape[0]
    out = np.full(size, np.nan)
    start = 0
    while start < size and np.isnan(x[start]):
        start += 1
    if start + n > size:
        return out
    acc = 0.0
    for j in range(start, start + n):
        acc += x[j]
    prev = acc / n
    out[start + n - 1] = prev
    for i in range(start + n, size):
        v = x[i]
        if np.isnan(v):
            continue
        prev = alpha * v + (1.0 - alpha) * prev
        out[i] = prev
    return out


@njit(**_JIT)
def ema(x: np.ndarray, span: int) -> np.ndarray:
    """Appel's EMA with ``alpha = 2 / (span + 1)``, seeded with the SMA of the first ``span`` values."""
    return ema_seeded(x, span, 2.0 / (span + 1.0))


@njit(**_JIT)
def wilder(x: np.ndarray, n: int) -> np.ndarray:
    """Wilder's smoothing (RMA), ``alpha = 1 / n``, seeded with the SMA of the first ``n`` values."""
    return ema_seeded(x, n, 1.0 / n)
