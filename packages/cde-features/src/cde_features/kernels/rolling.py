"""Rolling-window kernels over one float64 series.

Conventions shared by every kernel: ``out[i]`` uses ``x[i - w + 1 .. i]`` only (never later values);
the first ``w - 1`` outputs are NaN; a window that contains a NaN yields NaN. Sums and moments are
updated in O(1) per step (Welford add/remove), order statistics scan the window (windows are short).
Moment definitions follow pandas (sample variance ``ddof=1``; bias-corrected skewness G1 and excess
kurtosis G2, Joanes & Gill 1998), so pandas is a usable oracle.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NUMBA_CACHE_INPUTS = "e3b0c44298fc1c14"  # sha256 of the cde code it imports; tools/numba_cache_stamps.py

_JIT = {"nogil": True, "cache": True}


@njit(**_JIT)
def _neumaier(total: float, comp: float, v: float) -> tuple[float, float]:
    """Add v to the compensated pair (total, comp): comp keeps the low-order bits rounding dropped."""
    t = total + v
    if abs(total) >= abs(v):
        comp += (total - t) + v
    else:
        comp += (v - t) + total
    return t, comp


@njit(**_JIT)
def rolling_sum(x: np.ndarray, w: int) -> np.ndarray:
    """Window sums updated in O(1) per step, exact where the exact answer is 0.

    Adding and removing values leaves rounding residue (1e6 + 1e-3 - 1e6 - 1e-3 is not 0), which a
    ratio of two sums turns into garbage once the window holds only zeros (a taker-buy share of 8.75
    over a run of empty bars). So the window's non-zero inputs are counted and the sum restarts at an
    exact 0 whenever there are none, and the running sum is compensated (Neumaier), which keeps the
    residue of the values that left the window at the rounding of the values in it."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    total = 0.0
    comp = 0.0
    nans = 0
    nonzero = 0
    for i in range(n):
        v = x[i]
        if np.isnan(v):
            nans += 1
        elif v != 0.0:
            nonzero += 1
            total, comp = _neumaier(total, comp, v)
        if i >= w:
            old = x[i - w]
            if np.isnan(old):
                nans -= 1
            elif old != 0.0:
                nonzero -= 1
                total, comp = _neumaier(total, comp, -old)
        if nonzero == 0 or not np.isfinite(total):
            # nothing but zeros (exactly 0), or an inf that has left the window: restart from the window
            total = 0.0
            comp = 0.0
            if nonzero > 0:
                for j in range(max(i - w + 1, 0), i + 1):
                    if not np.isnan(x[j]):
                        total, comp = _neumaier(total, comp, x[j])
        if i >= w - 1 and nans == 0:
            out[i] = total + comp
    return out


@njit(**_JIT)
def rolling_mean(x: np.ndarray, w: int) -> np.ndarray:
    return rolling_sum(x, w) / w


@njit(**_JIT)
def constant_run(x: np.ndarray) -> np.ndarray:
    """``run[i]`` = how many bars up to i hold exactly ``x[i]`` in a row (1 = differs from the previous)."""
    n = x.shape[0]
    run = np.ones(n, dtype=np.int64)
    for i in range(1, n):
        if x[i] == x[i - 1]:
            run[i] = run[i - 1] + 1
    return run


@njit(**_JIT)
def rolling_cov(x: np.ndarray, y: np.ndarray, w: int, ddof: int) -> np.ndarray:
    """Sample covariance (``ddof``) of x and y over w bars (Welford co-moment add/remove); exactly 0
    when either side is constant over the window (add/remove rounding would leave ~1e-17 there)."""
    n = x.shape[0]
    run_x = constant_run(x)
    run_y = constant_run(y)
    out = np.full(n, np.nan)
    cnt = 0
    mx = 0.0
    my = 0.0
    cxy = 0.0
    nans = 0
    for i in range(n):
        a = x[i]
        b = y[i]
        if np.isnan(a) or np.isnan(b):
            nans += 1
        else:
            cnt += 1
            dx = a - mx
            mx += dx / cnt
            my += (b - my) / cnt
            cxy += dx * (b - my)
        if i >= w:
            a = x[i - w]
            b = y[i - w]
            if np.isnan(a) or np.isnan(b):
                nans -= 1
            else:
                cnt -= 1
                if cnt == 0:
                    mx = 0.0
                    my = 0.0
                    cxy = 0.0
                else:
                    mx_new = mx - (a - mx) / cnt
                    cxy -= (a - mx_new) * (b - my)
                    my -= (b - my) / cnt
                    mx = mx_new
        if i >= w - 1 and nans == 0 and cnt > ddof:
            out[i] = 0.0 if (run_x[i] >= w or run_y[i] >= w) else cxy / (cnt - ddof)
    return out


@njit(**_JIT)
def _var_add(cnt: int, m: float, c: float, a: float) -> tuple[int, float, float]:
    """:func:`_co_add` with b = a: the two running means are the same number, so one is kept."""
    cnt += 1
    d = a - m
    m += d / cnt
    c += d * (a - m)
    return cnt, m, c


@njit(**_JIT)
def _var_remove(cnt: int, m: float, c: float, a: float) -> tuple[int, float, float]:
    """:func:`_co_remove` with b = a (same values, one mean)."""
    cnt -= 1
    if cnt == 0:
        return 0, 0.0, 0.0
    m_new = m - (a - m) / cnt
    c -= (a - m_new) * (a - m)
    return cnt, m_new, c


@njit(**_JIT)
def rolling_var(x: np.ndarray, w: int, ddof: int) -> np.ndarray:
    """``rolling_cov(x, x, w, ddof)`` clipped at 0 (same arithmetic, one running mean)."""
    n = x.shape[0]
    run = constant_run(x)
    out = np.full(n, np.nan)
    cnt = 0
    m = 0.0
    c = 0.0
    nans = 0
    for i in range(n):
        a = x[i]
        if np.isnan(a):
            nans += 1
        else:
            cnt, m, c = _var_add(cnt, m, c, a)
        if i >= w:
            a = x[i - w]
            if np.isnan(a):
                nans -= 1
            else:
                cnt, m, c = _var_remove(cnt, m, c, a)
        if i >= w - 1 and nans == 0 and cnt > ddof:
            v = 0.0 if run[i] >= w else c / (cnt - ddof)
            out[i] = 0.0 if v < 0.0 else v
    return out


@njit(**_JIT)
def rolling_std(x: np.ndarray, w: int, ddof: int) -> np.ndarray:
    return np.sqrt(rolling_var(x, w, ddof))


@njit(**_JIT)
def _co_add(cnt: int, mx: float, my: float, c: float, a: float, b: float) -> tuple[int, float, float, float]:
    """Welford co-moment update adding (a, b) — the arithmetic of :func:`rolling_cov`."""
    cnt += 1
    dx = a - mx
    mx += dx / cnt
    my += (b - my) / cnt
    c += dx * (b - my)
    return cnt, mx, my, c


@njit(**_JIT)
def _co_remove(cnt: int, mx: float, my: float, c: float, a: float, b: float) -> tuple[int, float, float, float]:
    """Welford co-moment update removing (a, b) — the arithmetic of :func:`rolling_cov`."""
    cnt -= 1
    if cnt == 0:
        return 0, 0.0, 0.0, 0.0
    mx_new = mx - (a - mx) / cnt
    c -= (a - mx_new) * (b - my)
    my -= (b - my) / cnt
    return cnt, mx_new, my, c


@njit(**_JIT)
def rolling_corr(x: np.ndarray, y: np.ndarray, w: int) -> np.ndarray:
    """Pearson correlation over w bars; NaN when either side is (numerically) constant.

    One pass computing ``rolling_cov(x, y, w, 1)``, ``rolling_var(x, w, 1)`` and
    ``rolling_var(y, w, 1)`` side by side (each with its own NaN count, same arithmetic)."""
    n = x.shape[0]
    run_x = constant_run(x)
    run_y = constant_run(y)
    out = np.full(n, np.nan)
    cnt = 0
    mx = 0.0
    my = 0.0
    cxy = 0.0
    nans = 0
    cnt_x = 0
    mx_x = 0.0
    cxx = 0.0
    nans_x = 0
    cnt_y = 0
    mx_y = 0.0
    cyy = 0.0
    nans_y = 0
    for i in range(n):
        a = x[i]
        b = y[i]
        if np.isnan(a) or np.isnan(b):
            nans += 1
        else:
            cnt, mx, my, cxy = _co_add(cnt, mx, my, cxy, a, b)
        if np.isnan(a):
            nans_x += 1
        else:
            cnt_x, mx_x, cxx = _var_add(cnt_x, mx_x, cxx, a)
        if np.isnan(b):
            nans_y += 1
        else:
            cnt_y, mx_y, cyy = _var_add(cnt_y, mx_y, cyy, b)
        if i >= w:
            a = x[i - w]
            b = y[i - w]
            if np.isnan(a) or np.isnan(b):
                nans -= 1
            else:
                cnt, mx, my, cxy = _co_remove(cnt, mx, my, cxy, a, b)
            if np.isnan(a):
                nans_x -= 1
            else:
                cnt_x, mx_x, cxx = _var_remove(cnt_x, mx_x, cxx, a)
            if np.isnan(b):
                nans_y -= 1
            else:
                cnt_y, mx_y, cyy = _var_remove(cnt_y, mx_y, cyy, b)
        if i < w - 1:
            continue
        cov = np.nan
        if nans == 0 and cnt > 1:
            cov = 0.0 if (run_x[i] >= w or run_y[i] >= w) else cxy / (cnt - 1)
        vx = np.nan
        if nans_x == 0 and cnt_x > 1:
            vx = 0.0 if run_x[i] >= w else cxx / (cnt_x - 1)
            if vx < 0.0:
                vx = 0.0
        vy = np.nan
        if nans_y == 0 and cnt_y > 1:
            vy = 0.0 if run_y[i] >= w else cyy / (cnt_y - 1)
            if vy < 0.0:
                vy = 0.0
        if vx == 0.0 or vy == 0.0:
            continue
        den = np.sqrt(vx * vy)
        if den > 1e-14 * (abs(cov) + 1e-300) and den > 0.0:
            r = cov / den
            out[i] = min(1.0, max(-1.0, r))
    return out


@njit(**_JIT)
def rolling_min(x: np.ndarray, w: int) -> np.ndarray:
    """Window minimum in O(n) with a monotonic deque of indices (NaN if the window holds a NaN)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    dq = np.empty(n, dtype=np.int64)
    head = 0
    tail = 0
    last_nan = -1
    for i in range(n):
        v = x[i]
        if np.isnan(v):
            last_nan = i
            head = tail = 0
        else:
            while tail > head and x[dq[tail - 1]] >= v:
                tail -= 1
            dq[tail] = i
            tail += 1
            while dq[head] <= i - w:
                head += 1
        if i >= w - 1 and last_nan <= i - w:
            out[i] = x[dq[head]]
    return out


@njit(**_JIT)
def rolling_max(x: np.ndarray, w: int) -> np.ndarray:
    return -rolling_min(-x, w)


@njit(**_JIT)
def _rolling_arg_extreme(x: np.ndarray, w: int, sign: float) -> np.ndarray:
    """Position (0 = oldest bar) of the first maximum of ``sign · x`` in each window, in O(n) with a
    monotonic deque that keeps earlier equal values in front (NaN if the window holds a NaN)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    dq = np.empty(max(n, 1), dtype=np.int64)
    head = 0
    tail = 0
    last_nan = -1
    for i in range(n):
        v = sign * x[i]
        if np.isnan(v):
            last_nan = i
            head = tail = 0
        else:
            while tail > head and sign * x[dq[tail - 1]] < v:
                tail -= 1
            dq[tail] = i
            tail += 1
            while dq[head] <= i - w:
                head += 1
        if i >= w - 1 and last_nan <= i - w:
            out[i] = dq[head] - (i - w + 1)
    return out


@njit(**_JIT)
def rolling_argmax(x: np.ndarray, w: int) -> np.ndarray:
    """Position of the window maximum, 0 = oldest bar, w - 1 = current bar (first on ties)."""
    return _rolling_arg_extreme(x, w, 1.0)


@njit(**_JIT)
def rolling_argmin(x: np.ndarray, w: int) -> np.ndarray:
    """Position of the window minimum (first on ties): ``rolling_argmax(-x, w)``."""
    return _rolling_arg_extreme(x, w, -1.0)


@njit(**_JIT)
def rolling_rank(x: np.ndarray, w: int) -> np.ndarray:
    """Percentile rank of the current value within its window: average rank of ties / w, in (0, 1]."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    last_nan = -1
    for i in range(n):
        cur = x[i]
        if np.isnan(cur):
            last_nan = i
        if i < w - 1 or last_nan > i - w:  # a NaN in the window (or the window not full yet)
            continue
        below = 0
        equal = 0
        for j in range(i - w + 1, i + 1):  # branch-free counts, so the loop vectorises
            v = x[j]
            below += 1 if v < cur else 0
            equal += 1 if v == cur else 0
        out[i] = (below + (equal + 1) / 2.0) / w
    return out


@njit(**_JIT)
def decay_linear(x: np.ndarray, w: int) -> np.ndarray:
    """Linearly decaying weighted mean: weights w, w-1, …, 1 from the current bar back (sum 1)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    norm = w * (w + 1) / 2.0
    for i in range(w - 1, n):
        acc = 0.0
        for k in range(w):
            acc += (w - k) * x[i - k]
        out[i] = acc / norm
    return out


@njit(**_JIT)
def _moments(x: np.ndarray, lo: int, hi: int) -> tuple[float, float, float, float, int]:
    cnt = hi - lo
    mean = 0.0
    for j in range(lo, hi):
        mean += x[j]
    mean /= cnt
    m2 = 0.0
    m3 = 0.0
    m4 = 0.0
    for j in range(lo, hi):
        d = x[j] - mean
        d2 = d * d
        m2 += d2
        m3 += d2 * d
        m4 += d2 * d2
    return mean, m2, m3, m4, cnt


@njit(**_JIT)
def _skew_kurt_at(skew: np.ndarray, kurt: np.ndarray, i: int, m2: float, m3: float, m4: float,
                  cnt: int) -> None:
    if np.isnan(m2):
        return
    m2 /= cnt
    if m2 <= 1e-14 * 1e-14:
        return
    if cnt >= 3:
        g1 = (m3 / cnt) / m2 ** 1.5
        skew[i] = np.sqrt(cnt * (cnt - 1.0)) / (cnt - 2.0) * g1
    if cnt >= 4:
        g2 = (m4 / cnt) / (m2 * m2) - 3.0
        kurt[i] = (cnt - 1.0) / ((cnt - 2.0) * (cnt - 3.0)) * ((cnt + 1.0) * g2 + 6.0)


@njit(**_JIT)
def rolling_skew_kurt(x: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Adjusted Fisher–Pearson sample skewness G1 and bias-corrected excess kurtosis G2 (pandas
    ``Rolling.skew`` / ``Rolling.kurt``) from one pass over each window.

    Four neighbouring windows are summed side by side: each window's sums are accumulated in the same
    order as :func:`_moments` (so values are identical), but the four independent dependency chains
    overlap in the CPU instead of waiting on one another."""
    n = x.shape[0]
    skew = np.full(n, np.nan)
    kurt = np.full(n, np.nan)
    i = w - 1
    while i + 3 < n:
        lo = i - w + 1
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        for j in range(lo, i + 1):
            s0 += x[j]
            s1 += x[j + 1]
            s2 += x[j + 2]
            s3 += x[j + 3]
        mean0 = s0 / w
        mean1 = s1 / w
        mean2 = s2 / w
        mean3 = s3 / w
        a2 = a3 = a4 = 0.0
        b2 = b3 = b4 = 0.0
        c2 = c3 = c4 = 0.0
        e2 = e3 = e4 = 0.0
        for j in range(lo, i + 1):
            d = x[j] - mean0
            d2 = d * d
            a2 += d2
            a3 += d2 * d
            a4 += d2 * d2
            d = x[j + 1] - mean1
            d2 = d * d
            b2 += d2
            b3 += d2 * d
            b4 += d2 * d2
            d = x[j + 2] - mean2
            d2 = d * d
            c2 += d2
            c3 += d2 * d
            c4 += d2 * d2
            d = x[j + 3] - mean3
            d2 = d * d
            e2 += d2
            e3 += d2 * d
            e4 += d2 * d2
        _skew_kurt_at(skew, kurt, i, a2, a3, a4, w)
        _skew_kurt_at(skew, kurt, i + 1, b2, b3, b4, w)
        _skew_kurt_at(skew, kurt, i + 2, c2, c3, c4, w)
        _skew_kurt_at(skew, kurt, i + 3, e2, e3, e4, w)
        i += 4
    while i < n:
        _, m2, m3, m4, cnt = _moments(x, i - w + 1, i + 1)
        _skew_kurt_at(skew, kurt, i, m2, m3, m4, cnt)
        i += 1
    return skew, kurt


@njit(**_JIT)
def rolling_skew(x: np.ndarray, w: int) -> np.ndarray:
    """Adjusted Fisher–Pearson sample skewness G1 (pandas ``Rolling.skew``)."""
    return rolling_skew_kurt(x, w)[0]


@njit(**_JIT)
def rolling_kurt(x: np.ndarray, w: int) -> np.ndarray:
    """Bias-corrected sample excess kurtosis G2 (pandas ``Rolling.kurt``)."""
    return rolling_skew_kurt(x, w)[1]


@njit(**_JIT)
def shift(x: np.ndarray, k: int) -> np.ndarray:
    """``x`` delayed by k bars (k ≥ 0): ``out[i] = x[i - k]``."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    for i in range(k, n):
        out[i] = x[i - k]
    return out


@njit(**_JIT)
def rolling_ols_slope(y: np.ndarray, w: int) -> np.ndarray:
    """Least-squares slope of y against 0..w-1 over each window (per bar); four neighbouring windows
    are accumulated side by side (each in the same order, so values do not depend on it)."""
    n = y.shape[0]
    out = np.full(n, np.nan)
    xm = (w - 1) / 2.0
    sxx = 0.0
    for k in range(w):
        sxx += (k - xm) * (k - xm)
    i = w - 1
    while i + 3 < n:
        lo = i - w + 1
        a0 = 0.0
        a1 = 0.0
        a2 = 0.0
        a3 = 0.0
        for k in range(w):
            c = k - xm
            a0 += c * y[lo + k]
            a1 += c * y[lo + k + 1]
            a2 += c * y[lo + k + 2]
            a3 += c * y[lo + k + 3]
        out[i] = a0 / sxx
        out[i + 1] = a1 / sxx
        out[i + 2] = a2 / sxx
        out[i + 3] = a3 / sxx
        i += 4
    while i < n:
        acc = 0.0
        for k in range(w):
            acc += (k - xm) * y[i - w + 1 + k]
        out[i] = acc / sxx
        i += 1
    return out
