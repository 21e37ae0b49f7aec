"""Kernels over a (time × symbol) grid: one cross-section per row, NaN cells ignored."""

from __future__ import annotations

import numpy as np
from numba import njit

_JIT = {"nogil": True, "cache": True}


@njit(**_JIT)
def cs_rank(grid: np.ndarray) -> np.ndarray:
    """Percentile rank per row, ``(average rank of ties) / count`` in (0, 1], like
    ``DataFrame.rank(axis=1, pct=True)``."""
    rows, cols = grid.shape
    out = np.full((rows, cols), np.nan)
    for r in range(rows):
        row = grid[r]
        valid = np.empty(cols, dtype=np.int64)
        m = 0
        for c in range(cols):
            if not np.isnan(row[c]):
                valid[m] = c
                m += 1
        if m == 0:
            continue
        vals = np.empty(m)
        for k in range(m):
            vals[k] = row[valid[k]]
        order = np.argsort(vals, kind="mergesort")
        k = 0
        while k < m:
            j = k
            while j + 1 < m and vals[order[j + 1]] == vals[order[k]]:
                j += 1
            avg = (k + j) / 2.0 + 1.0
            for t in range(k, j + 1):
                out[r, valid[order[t]]] = avg / m
            k = j + 1
    return out


@njit(**_JIT)
def cs_zscore(grid: np.ndarray) -> np.ndarray:
    """(x − row mean) / row sample std (ddof = 1); NaN when fewer than 2 values or zero spread."""
    rows, cols = grid.shape
    out = np.full((rows, cols), np.nan)
    for r in range(rows):
        s = 0.0
        m = 0
        for c in range(cols):
            v = grid[r, c]
            if not np.isnan(v):
                s += v
                m += 1
        if m < 2:
            continue
        mean = s / m
        ss = 0.0
        for c in range(cols):
            v = grid[r, c]
            if not np.isnan(v):
                ss += (v - mean) * (v - mean)
        sd = np.sqrt(ss / (m - 1))
        if sd <= 0.0:
            continue
        for c in range(cols):
            v = grid[r, c]
            if not np.isnan(v):
                out[r, c] = (v - mean) / sd
    return out


@njit(**_JIT)
def cs_demean(grid: np.ndarray) -> np.ndarray:
    rows, cols = grid.shape
    out = np.full((rows, cols), np.nan)
    for r in range(rows):
        s = 0.0
        m = 0
        for c in range(cols):
            v = grid[r, c]
            if not np.isnan(v):
                s += v
                m += 1
        if m == 0:
            continue
        mean = s / m
        for c in range(cols):
            v = grid[r, c]
            if not np.isnan(v):
                out[r, c] = v - mean
    return out


@njit(**_JIT)
def cs_scale(grid: np.ndarray) -> np.ndarray:
    """Rescale each row so that ``sum(|x|) = 1`` ("scale" of Kakushadze 2016)."""
    rows, cols = grid.shape
    out = np.full((rows, cols), np.nan)
    for r in range(rows):
        s = 0.0
        for c in range(cols):
            v = grid[r, c]
            if not np.isnan(v):
                s += abs(v)
        if s <= 0.0:
            continue
        for c in range(cols):
            v = grid[r, c]
            if not np.isnan(v):
                out[r, c] = v / s
    return out


@njit(**_JIT)
def snap_rows(grid: np.ndarray, digits: float) -> np.ndarray:
    """Round each row to a grid of ``10^-digits × max |x|`` of that row, so values that differ only
    by floating-point noise (a covariance of 4e-17 that is 0 in exact arithmetic) tie when ranked."""
    rows, cols = grid.shape
    out = np.empty((rows, cols))
    for r in range(rows):
        top = 0.0
        for c in range(cols):
            v = grid[r, c]
            if not np.isnan(v) and abs(v) > top:
                top = abs(v)
        q = top * 10.0 ** (-digits)
        for c in range(cols):
            v = grid[r, c]
            out[r, c] = v if (q == 0.0 or np.isnan(v)) else np.round(v / q) * q
    return out
