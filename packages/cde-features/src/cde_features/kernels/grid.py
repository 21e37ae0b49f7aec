"""The rolling kernels applied column by column to a (time × symbol) grid in one Numba call.

Each symbol's column is copied into a contiguous buffer and run through the same 1-D kernel as the
per-symbol factors (so values are identical), without a Python-level loop or a copy per column.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cde_features.kernels import rolling

_JIT = {"nogil": True, "cache": True}


@njit(**_JIT)
def _column(x: np.ndarray, j: int, buf: np.ndarray) -> np.ndarray:
    for t in range(x.shape[0]):
        buf[t] = x[t, j]
    return buf


@njit(**_JIT)
def ts_sum(x: np.ndarray, w: int) -> np.ndarray:
    out = np.empty(x.shape)
    buf = np.empty(x.shape[0])
    for j in range(x.shape[1]):
        out[:, j] = rolling.rolling_sum(_column(x, j, buf), w)
    return out


@njit(**_JIT)
def ts_mean(x: np.ndarray, w: int) -> np.ndarray:
    out = np.empty(x.shape)
    buf = np.empty(x.shape[0])
    for j in range(x.shape[1]):
        out[:, j] = rolling.rolling_mean(_column(x, j, buf), w)
    return out


@njit(**_JIT)
def ts_std(x: np.ndarray, w: int, ddof: int) -> np.ndarray:
    out = np.empty(x.shape)
    buf = np.empty(x.shape[0])
    for j in range(x.shape[1]):
        out[:, j] = rolling.rolling_std(_column(x, j, buf), w, ddof)
    return out


@njit(**_JIT)
def ts_min(x: np.ndarray, w: int) -> np.ndarray:
    out = np.empty(x.shape)
    buf = np.empty(x.shape[0])
    for j in range(x.shape[1]):
        out[:, j] = rolling.rolling_min(_column(x, j, buf), w)
    return out


@njit(**_JIT)
def ts_max(x: np.ndarray, w: int) -> np.ndarray:
    out = np.empty(x.shape)
    buf = np.empty(x.shape[0])
    for j in range(x.shape[1]):
        out[:, j] = rolling.rolling_max(_column(x, j, buf), w)
    return out


@njit(**_JIT)
def ts_argmax(x: np.ndarray, w: int) -> np.ndarray:
    out = np.empty(x.shape)
    buf = np.empty(x.shape[0])
    for j in range(x.shape[1]):
        out[:, j] = rolling.rolling_argmax(_column(x, j, buf), w)
    return out


@njit(**_JIT)
def ts_argmin(x: np.ndarray, w: int) -> np.ndarray:
    out = np.empty(x.shape)
    buf = np.empty(x.shape[0])
    for j in range(x.shape[1]):
        out[:, j] = rolling.rolling_argmin(_column(x, j, buf), w)
    return out


@njit(**_JIT)
def ts_rank(x: np.ndarray, w: int) -> np.ndarray:
    out = np.empty(x.shape)
    buf = np.empty(x.shape[0])
    for j in range(x.shape[1]):
        out[:, j] = rolling.rolling_rank(_column(x, j, buf), w)
    return out


@njit(**_JIT)
def decay_linear(x: np.ndarray, w: int) -> np.ndarray:
    out = np.empty(x.shape)
    buf = np.empty(x.shape[0])
    for j in range(x.shape[1]):
        out[:, j] = rolling.decay_linear(_column(x, j, buf), w)
    return out


@njit(**_JIT)
def ts_corr(x: np.ndarray, y: np.ndarray, w: int) -> np.ndarray:
    out = np.empty(x.shape)
    bx = np.empty(x.shape[0])
    by = np.empty(x.shape[0])
    for j in range(x.shape[1]):
        out[:, j] = rolling.rolling_corr(_column(x, j, bx), _column(y, j, by), w)
    return out


@njit(**_JIT)
def ts_cov(x: np.ndarray, y: np.ndarray, w: int, ddof: int) -> np.ndarray:
    out = np.empty(x.shape)
    bx = np.empty(x.shape[0])
    by = np.empty(x.shape[0])
    for j in range(x.shape[1]):
        out[:, j] = rolling.rolling_cov(_column(x, j, bx), _column(y, j, by), w, ddof)
    return out
