"""Kernels over a (time × symbol) grid: one cross-section per row, NaN cells ignored."""

from __future__ import annotations

import numpy as np
from numba import njit

NUMBA_CACHE_INPUTS = "e3b0c44298fc1c14"  # sha256 of the cde code it imports; tools/numba_cache_stamps.py

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


#: snapped ranks encode a value's grid step k and its column c in one sortable int64:
#: ((k + _K0) << bits) | c with 2^bits ≥ cols
_K0 = 1 << 40
_NAN_KEY = np.iinfo(np.int64).max
_MIN_NORMAL = 2.2250738585072014e-308


@njit(**_JIT)
def _rank_row_slow(values: np.ndarray, out_row: np.ndarray) -> None:
    """``cs_rank`` of one row (the reference algorithm; used for rows the fast path cannot encode)."""
    cols = values.shape[0]
    valid = np.empty(cols, dtype=np.int64)
    m = 0
    for c in range(cols):
        out_row[c] = np.nan
        if not np.isnan(values[c]):
            valid[m] = c
            m += 1
    if m == 0:
        return
    vals = np.empty(m)
    for k in range(m):
        vals[k] = values[valid[k]]
    order = np.argsort(vals, kind="mergesort")
    k = 0
    while k < m:
        j = k
        while j + 1 < m and vals[order[j + 1]] == vals[order[k]]:
            j += 1
        avg = (k + j) / 2.0 + 1.0
        for t in range(k, j + 1):
            out_row[valid[order[t]]] = avg / m
        k = j + 1


@njit(**_JIT)
def _snap_keys(grid: np.ndarray, digits: float, bits: int) -> tuple:
    """Sort keys of :func:`snap_rows` values: ``((k + _K0) << bits) | c`` with k the value's step on the
    row's snapping grid (NaN → ``_NAN_KEY``); the count of values per row; rows to rank the slow way
    (−1 = all NaN because the row holds ±inf, 1 = the grid step is not a normal float)."""
    rows, cols = grid.shape
    keys = np.empty((rows, cols), dtype=np.int64)
    counts = np.zeros(rows, dtype=np.int64)
    special = np.zeros(rows, dtype=np.int8)
    scale = 10.0 ** (-digits)
    for r in range(rows):
        top = 0.0
        for c in range(cols):
            v = grid[r, c]
            if not np.isnan(v) and abs(v) > top:
                top = abs(v)
        q = top * scale
        if np.isinf(q):  # x / inf * inf is NaN: snap_rows turns the whole row into NaN
            special[r] = -1
            continue
        if q != 0.0 and q < _MIN_NORMAL:
            special[r] = 1
            continue
        m = 0
        for c in range(cols):
            v = grid[r, c]
            if np.isnan(v):
                keys[r, c] = _NAN_KEY
                continue
            k = 0.0 if q == 0.0 else np.round(v / q)
            if abs(k) >= _K0:
                special[r] = 1
                break
            keys[r, c] = ((np.int64(k) + _K0) << bits) | c
            m += 1
        counts[r] = m
    return keys, counts, special


@njit(**_JIT)
def _ranks_from_sorted_keys(sorted_keys: np.ndarray, counts: np.ndarray, special: np.ndarray,
                            grid: np.ndarray, digits: float, bits: int) -> np.ndarray:
    rows, cols = sorted_keys.shape
    mask = (np.int64(1) << bits) - 1
    out = np.empty((rows, cols))
    for r in range(rows):
        if special[r] != 0:
            if special[r] < 0:
                out[r, :] = np.nan
            else:
                _rank_row_slow(snap_rows(grid[r:r + 1], digits)[0], out[r])
            continue
        m = counts[r]
        for c in range(cols):
            out[r, c] = np.nan
        k = 0
        while k < m:
            step = sorted_keys[r, k] >> bits
            j = k
            while j + 1 < m and sorted_keys[r, j + 1] >> bits == step:
                j += 1
            avg = (k + j) / 2.0 + 1.0
            for t in range(k, j + 1):
                out[r, sorted_keys[r, t] & mask] = avg / m
            k = j + 1
    return out


def cs_rank_snapped(grid: np.ndarray, digits: float) -> np.ndarray:
    """``cs_rank(snap_rows(grid, digits))``, equal to it cell for cell, without per-row sorting:
    snapped values are integer multiples k·q of the row's step q, so (k, column) packs into one
    int64 and a single vectorised sort of the (time × symbol) key matrix orders every row."""
    grid = np.ascontiguousarray(grid, dtype=np.float64)
    rows, cols = grid.shape
    if cols == 0 or rows == 0:
        return np.full((rows, cols), np.nan)
    if cols >= 1 << 20:
        return cs_rank(snap_rows(grid, digits))
    bits = max(1, (cols - 1).bit_length())
    keys, counts, special = _snap_keys(grid, digits, bits)
    keys.sort(axis=1)
    return _ranks_from_sorted_keys(keys, counts, special, grid, digits, bits)
