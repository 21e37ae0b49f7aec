"""The operators of "101 Formulaic Alphas" (Kakushadze 2016, arXiv:1601.00991, Appendix A.1) over
(time × symbol) numpy grids, backed by the Numba kernels.

Conventions: ``rank`` is the cross-sectional percentile rank (ties averaged, NaN ignored);
``ts_rank`` the percentile rank of today's value within its window; ``ts_argmax``/``ts_argmin`` the
position in the window (0 = oldest, d − 1 = today); ``decay_linear`` weights d, d − 1, …, 1 (today
heaviest), normalised to sum 1; ``scale`` rescales each cross-section to ``sum |x| = 1``;
``adv{d}`` is the d-bar average *volume* (the paper says dollar volume; using volume keeps
comparisons such as ``adv20 < volume`` in Alpha#7 dimensionally consistent).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: ranks treat values equal to this many digits (relative to the cross-section's largest) as ties
RANK_DIGITS = 9.0


class GridOps:
    """Operators on float64 grids shaped (time, symbol); every time-series operator is causal."""

    def __init__(self) -> None:
        from cde_features.kernels import cross_section, grid

        self._grid = grid
        self._cs = cross_section

    # -- cross-sectional -------------------------------------------------------------------------
    def rank(self, x: np.ndarray) -> np.ndarray:
        """Cross-sectional rank; values equal to ``RANK_DIGITS`` digits of the row's largest
        magnitude tie (so floating-point noise cannot reorder mathematically equal values)."""
        return self._cs.cs_rank_snapped(x, RANK_DIGITS)

    def scale(self, x: np.ndarray) -> np.ndarray:
        return self._cs.cs_scale(np.asarray(x, dtype=np.float64))

    # -- element-wise ----------------------------------------------------------------------------
    @staticmethod
    def where(cond: np.ndarray, a: Any, b: Any) -> np.ndarray:
        return np.asarray(np.where(cond, a, b), dtype=np.float64)

    @staticmethod
    def signedpower(x: np.ndarray, a: float) -> np.ndarray:
        return np.sign(x) * np.abs(x) ** a

    # -- time series -----------------------------------------------------------------------------
    def delay(self, x: np.ndarray, d: int) -> np.ndarray:
        out = np.full(x.shape, np.nan)
        out[d:] = x[:-d] if d else x
        return out

    def delta(self, x: np.ndarray, d: int) -> np.ndarray:
        return x - self.delay(x, d)

    def returns(self, close: np.ndarray) -> np.ndarray:
        return close / self.delay(close, 1) - 1.0

    def ts_sum(self, x: np.ndarray, d: int) -> np.ndarray:
        return self._grid.ts_sum(_f64(x), d)

    def sma(self, x: np.ndarray, d: int) -> np.ndarray:
        return self._grid.ts_mean(_f64(x), d)

    def stddev(self, x: np.ndarray, d: int) -> np.ndarray:
        return self._grid.ts_std(_f64(x), d, 1)

    def correlation(self, x: np.ndarray, y: np.ndarray, d: int) -> np.ndarray:
        return self._grid.ts_corr(_f64(x), _f64(y), d)

    def covariance(self, x: np.ndarray, y: np.ndarray, d: int) -> np.ndarray:
        return self._grid.ts_cov(_f64(x), _f64(y), d, 1)

    def ts_min(self, x: np.ndarray, d: int) -> np.ndarray:
        return self._grid.ts_min(_f64(x), d)

    def ts_max(self, x: np.ndarray, d: int) -> np.ndarray:
        return self._grid.ts_max(_f64(x), d)

    def ts_argmax(self, x: np.ndarray, d: int) -> np.ndarray:
        return self._grid.ts_argmax(_f64(x), d)

    def ts_argmin(self, x: np.ndarray, d: int) -> np.ndarray:
        return self._grid.ts_argmin(_f64(x), d)

    def ts_rank(self, x: np.ndarray, d: int) -> np.ndarray:
        return self._grid.ts_rank(_f64(x), d)

    def decay_linear(self, x: np.ndarray, d: int) -> np.ndarray:
        return self._grid.decay_linear(_f64(x), d)


def _f64(x: np.ndarray) -> np.ndarray:
    """A C-contiguous float64 grid (no copy when it already is one), so each kernel compiles once."""
    return np.ascontiguousarray(x, dtype=np.float64)
