"""Moving feature values between per-symbol blocks, (time × symbol) grids and the output matrix.

The calculator's output is one ``(columns, rows)`` float64 matrix in panel order (rows sorted by
``(ts, symbol)``), i.e. the memory layout of the final DataFrame's single block. These kernels write
into it in one pass each, applying the output conventions on the way: cells inside a factor's warm-up
become NaN and ±inf becomes NaN.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NUMBA_CACHE_INPUTS = "e3b0c44298fc1c14"  # sha256 of the cde code it imports; tools/numba_cache_stamps.py

_JIT = {"nogil": True, "cache": True}


@njit(**_JIT)
def scatter_block(out: np.ndarray, rows: np.ndarray, lookbacks: np.ndarray, block: np.ndarray,
                  pos: np.ndarray, seq: np.ndarray, order: np.ndarray) -> None:
    """``out[rows[c], pos[i]] = block[c, i]`` for every column c and cell i, visiting cells in
    ``order`` (ascending ``pos``, so writes sweep the output rows forward); a cell whose position in
    its symbol's history ``seq[i]`` is below ``lookbacks[c]``, or that is not finite, becomes NaN."""
    for c in range(rows.shape[0]):
        r = rows[c]
        lb = lookbacks[c]
        for k in range(order.shape[0]):
            i = order[k]
            v = block[c, i]
            if seq[i] < lb or not np.isfinite(v):
                v = np.nan
            out[r, pos[i]] = v


@njit(**_JIT)
def finish_grid(dst: np.ndarray, src: np.ndarray, lookback: int) -> None:
    """``dst = src`` for two (time × symbol) grids, NaN in the first ``lookback`` rows and where
    ``src`` is not finite (a complete grid: every symbol's history starts at row 0)."""
    rows, cols = src.shape
    for t in range(rows):
        for j in range(cols):
            v = src[t, j]
            dst[t, j] = np.nan if (t < lookback or not np.isfinite(v)) else v


@njit(**_JIT)
def put_values(out: np.ndarray, row: int, pos: np.ndarray, values: np.ndarray, lookback: int) -> None:
    """``out[row, pos[i]] = values[i]`` (one symbol's column), NaN for ``i < lookback`` and for ±inf."""
    for i in range(values.shape[0]):
        v = values[i]
        if i < lookback or not np.isfinite(v):
            v = np.nan
        out[row, pos[i]] = v
