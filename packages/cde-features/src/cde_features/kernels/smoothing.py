"""Recursive smoothers seeded as TA-Lib seeds them.

An EMA here starts at the first valid (non-NaN) inputs: its first value is the simple mean of the
first ``n`` valid inputs (Wilder 1978; TA-Lib's default), later values follow
``ema[i] = alpha * x[i] + (1 - alpha) * ema[i - 1]``. A NaN input (a missing bar) yields NaN and
leaves the state untouched, in the seed too. ``alpha = 2 / (span + 1)`` for Appel's EMA (MACD),
``1 / n`` for Wilder's RMA. :func:`ema_seeded_at` seeds later, as TA-Lib's MACD seeds its fast EMA
where the slow one starts; :func:`wilder_sum` is Wilder's running sum as TA-Lib's ADX / DI keep it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NUMBA_CACHE_INPUTS = "e3b0c44298fc1c14"  # sha256 of the cde code it imports; tools/numba_cache_stamps.py

_JIT = {"nogil": True, "cache": True}


@njit(**_JIT)
def ema_seeded_at(x: np.ndarray, n: int, alpha: float, warm: int) -> np.ndarray:
    """EMA whose first value, at the ``warm``-th valid input (``warm >= n``), is the mean of the last
    ``n`` of the first ``warm`` valid inputs."""
    size = x.shape[0]
    out = np.full(size, np.nan)
    count = 0
    acc = 0.0
    i = 0
    while i < size and count < warm:
        v = x[i]
        if not np.isnan(v):
            count += 1
            if count > warm - n:
                acc += v
        i += 1
    if count < warm:
        return out
    prev = acc / n
    out[i - 1] = prev
    for j in range(i, size):
        v = x[j]
        if np.isnan(v):
            continue
        prev = alpha * v + (1.0 - alpha) * prev
        out[j] = prev
    return out


@njit(**_JIT)
def ema_seeded(x: np.ndarray, n: int, alpha: float) -> np.ndarray:
    """EMA seeded with the mean of the first ``n`` valid inputs."""
    return ema_seeded_at(x, n, alpha, n)


@njit(**_JIT)
def wilder_sum(x: np.ndarray, n: int) -> np.ndarray:
    """Wilder's running sum (TA-Lib's ADX / DI): the sum of the first ``n − 1`` valid inputs, then at
    each valid input ``S ← S − S/n + x`` (the first value at the n-th valid input). ``S / n`` is an
    RMA seeded differently from :func:`wilder` (the first n − 1 inputs weigh (n − 1)/n)."""
    size = x.shape[0]
    out = np.full(size, np.nan)
    count = 0
    acc = 0.0
    i = 0
    while i < size and count < n - 1:
        v = x[i]
        if not np.isnan(v):
            count += 1
            acc += v
        i += 1
    if count < n - 1:
        return out
    for j in range(i, size):
        v = x[j]
        if np.isnan(v):
            continue
        acc = acc - acc / n + v
        out[j] = acc
    return out


@njit(**_JIT)
def ema(x: np.ndarray, span: int) -> np.ndarray:
    """Appel's EMA with ``alpha = 2 / (span + 1)``, seeded with the SMA of the first ``span`` values."""
    return ema_seeded(x, span, 2.0 / (span + 1.0))


@njit(**_JIT)
def wilder(x: np.ndarray, n: int) -> np.ndarray:
    """Wilder's smoothing (RMA), ``alpha = 1 / n``, seeded with the SMA of the first ``n`` values."""
    return ema_seeded(x, n, 1.0 / n)
