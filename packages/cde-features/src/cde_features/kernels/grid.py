"""The rolling kernels applied column by column to a (time × symbol) grid in one Numba call.

Columns are processed in blocks of :data:`BLOCK` neighbouring symbols: the block is gathered into
contiguous rows (each cache line of the grid is read once per block, not once per symbol), each row
runs through the same 1-D kernel as the per-symbol factors (so values are identical), and the
results are scattered back the same way.

The block loop is written out once per kernel on purpose. A single driver taking the 1-D kernel as an
argument computes the same values, but Numba's on-disk cache never hits for functions typed on a
dispatcher argument (measured: a recompile of several seconds in every new process), which the
``cache=True`` start-up budget cannot afford.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cde_features.kernels import rolling

NUMBA_CACHE_INPUTS = "2103fcf93709608a"  # sha256 of the cde code it imports; tools/numba_cache_stamps.py

_JIT = {"nogil": True, "cache": True}

#: symbols per block: one 64-byte cache line of float64
BLOCK = 8


@njit(**_JIT)
def _gather(x: np.ndarray, j0: int, nb: int, buf: np.ndarray) -> None:
    for t in range(x.shape[0]):
        for k in range(nb):
            buf[k, t] = x[t, j0 + k]


@njit(**_JIT)
def _scatter(res: np.ndarray, j0: int, nb: int, out: np.ndarray) -> None:
    for t in range(out.shape[0]):
        for k in range(nb):
            out[t, j0 + k] = res[k, t]


@njit(**_JIT)
def ts_sum(x: np.ndarray, w: int) -> np.ndarray:
    rows, cols = x.shape
    out = np.empty((rows, cols))
    buf = np.empty((BLOCK, rows))
    res = np.empty((BLOCK, rows))
    for j0 in range(0, cols, BLOCK):
        nb = min(BLOCK, cols - j0)
        _gather(x, j0, nb, buf)
        for k in range(nb):
            res[k] = rolling.rolling_sum(buf[k], w)
        _scatter(res, j0, nb, out)
    return out


@njit(**_JIT)
def ts_mean(x: np.ndarray, w: int) -> np.ndarray:
    rows, cols = x.shape
    out = np.empty((rows, cols))
    buf = np.empty((BLOCK, rows))
    res = np.empty((BLOCK, rows))
    for j0 in range(0, cols, BLOCK):
        nb = min(BLOCK, cols - j0)
        _gather(x, j0, nb, buf)
        for k in range(nb):
            res[k] = rolling.rolling_mean(buf[k], w)
        _scatter(res, j0, nb, out)
    return out


@njit(**_JIT)
def ts_std(x: np.ndarray, w: int, ddof: int) -> np.ndarray:
    rows, cols = x.shape
    out = np.empty((rows, cols))
    buf = np.empty((BLOCK, rows))
    res = np.empty((BLOCK, rows))
    for j0 in range(0, cols, BLOCK):
        nb = min(BLOCK, cols - j0)
        _gather(x, j0, nb, buf)
        for k in range(nb):
            res[k] = rolling.rolling_std(buf[k], w, ddof)
        _scatter(res, j0, nb, out)
    return out


@njit(**_JIT)
def ts_min(x: np.ndarray, w: int) -> np.ndarray:
    rows, cols = x.shape
    out = np.empty((rows, cols))
    buf = np.empty((BLOCK, rows))
    res = np.empty((BLOCK, rows))
    for j0 in range(0, cols, BLOCK):
        nb = min(BLOCK, cols - j0)
        _gather(x, j0, nb, buf)
        for k in range(nb):
            res[k] = rolling.rolling_min(buf[k], w)
        _scatter(res, j0, nb, out)
    return out


@njit(**_JIT)
def ts_max(x: np.ndarray, w: int) -> np.ndarray:
    rows, cols = x.shape
    out = np.empty((rows, cols))
    buf = np.empty((BLOCK, rows))
    res = np.empty((BLOCK, rows))
    for j0 in range(0, cols, BLOCK):
        nb = min(BLOCK, cols - j0)
        _gather(x, j0, nb, buf)
        for k in range(nb):
            res[k] = rolling.rolling_max(buf[k], w)
        _scatter(res, j0, nb, out)
    return out


@njit(**_JIT)
def ts_argmax(x: np.ndarray, w: int) -> np.ndarray:
    rows, cols = x.shape
    out = np.empty((rows, cols))
    buf = np.empty((BLOCK, rows))
    res = np.empty((BLOCK, rows))
    for j0 in range(0, cols, BLOCK):
        nb = min(BLOCK, cols - j0)
        _gather(x, j0, nb, buf)
        for k in range(nb):
            res[k] = rolling.rolling_argmax(buf[k], w)
        _scatter(res, j0, nb, out)
    return out


@njit(**_JIT)
def ts_argmin(x: np.ndarray, w: int) -> np.ndarray:
    rows, cols = x.shape
    out = np.empty((rows, cols))
    buf = np.empty((BLOCK, rows))
    res = np.empty((BLOCK, rows))
    for j0 in range(0, cols, BLOCK):
        nb = min(BLOCK, cols - j0)
        _gather(x, j0, nb, buf)
        for k in range(nb):
            res[k] = rolling.rolling_argmin(buf[k], w)
        _scatter(res, j0, nb, out)
    return out


@njit(**_JIT)
def ts_rank(x: np.ndarray, w: int) -> np.ndarray:
    rows, cols = x.shape
    out = np.empty((rows, cols))
    buf = np.empty((BLOCK, rows))
    res = np.empty((BLOCK, rows))
    for j0 in range(0, cols, BLOCK):
        nb = min(BLOCK, cols - j0)
        _gather(x, j0, nb, buf)
        for k in range(nb):
            res[k] = rolling.rolling_rank(buf[k], w)
        _scatter(res, j0, nb, out)
    return out


@njit(**_JIT)
def decay_linear(x: np.ndarray, w: int) -> np.ndarray:
    rows, cols = x.shape
    out = np.empty((rows, cols))
    buf = np.empty((BLOCK, rows))
    res = np.empty((BLOCK, rows))
    for j0 in range(0, cols, BLOCK):
        nb = min(BLOCK, cols - j0)
        _gather(x, j0, nb, buf)
        for k in range(nb):
            res[k] = rolling.decay_linear(buf[k], w)
        _scatter(res, j0, nb, out)
    return out


@njit(**_JIT)
def ts_corr(x: np.ndarray, y: np.ndarray, w: int) -> np.ndarray:
    rows, cols = x.shape
    out = np.empty((rows, cols))
    bx = np.empty((BLOCK, rows))
    by = np.empty((BLOCK, rows))
    res = np.empty((BLOCK, rows))
    for j0 in range(0, cols, BLOCK):
        nb = min(BLOCK, cols - j0)
        _gather(x, j0, nb, bx)
        _gather(y, j0, nb, by)
        for k in range(nb):
            res[k] = rolling.rolling_corr(bx[k], by[k], w)
        _scatter(res, j0, nb, out)
    return out


@njit(**_JIT)
def ts_cov(x: np.ndarray, y: np.ndarray, w: int, ddof: int) -> np.ndarray:
    rows, cols = x.shape
    out = np.empty((rows, cols))
    bx = np.empty((BLOCK, rows))
    by = np.empty((BLOCK, rows))
    res = np.empty((BLOCK, rows))
    for j0 in range(0, cols, BLOCK):
        nb = min(BLOCK, cols - j0)
        _gather(x, j0, nb, bx)
        _gather(y, j0, nb, by)
        for k in range(nb):
            res[k] = rolling.rolling_cov(bx[k], by[k], w, ddof)
        _scatter(res, j0, nb, out)
    return out
