"""Tick, volume and dollar bars: close a bar when its running count / base volume / quote volume
reaches the threshold (the trade that reaches it belongs to the bar it closes).

With ``dynamic`` the threshold is re-derived at every UTC day change from the measure of the past
``len(ring)`` days only (trailing mean / bars per day), so a bar never uses the day it is in.

One loop body, compiled six times: :func:`threshold_kernel` returns the kernel for one measure and
one kind of threshold. ``measure`` and ``dynamic`` are constants of each compiled loop rather than
arguments because LLVM kept the argument tests inside the loop (a test per trade for each, and the
state held in stack slots): the dollar loop ran at 446 M trades/s as one kernel for all, 630 M
specialised (20 M trades, one core of the 2-core development VM). They are closure constants of a
factory, which Numba caches on disk per value (checked: cache hits in a new process). Literal
dispatch (``numba.literally``) would instead miss the cache for the plain-int signature in every new
process and type the kernel again first; dispatcher arguments miss it outright (cde-features' grid).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from cde_bars.kernels.layout import (
    F_BUY,
    F_BUY_QUOTE,
    F_DAY_TOTAL,
    F_HIGH,
    F_LOW,
    F_QUOTE,
    F_THRESHOLD,
    F_VOLUME,
    I_COUNT,
    I_DAY,
    I_DAYS_SEEN,
    I_RING_POS,
    MEASURE_QUOTE,
    MEASURE_TICKS,
    MEASURE_VOLUME,
    O_BUY,
    O_BUY_QUOTE,
    O_HIGH,
    O_LOW,
    O_QUOTE,
    O_VOLUME,
)

NUMBA_CACHE_INPUTS = "6544c9e4d49a3e28"  # sha256 of the cde code it imports; tools/numba_cache_stamps.py

DAY_US = 86_400_000_000
#: indexed by ``is_buyer_maker`` (0/1): the weight of a trade in taker-buy sums. A lookup instead of a
#: branch or an int→float conversion keeps the loop branch-free (a branch on the side costs 4×).
TAKER_BUY_WEIGHT = np.array([1.0, 0.0])


@njit(cache=True, nogil=True)
def next_dynamic_threshold(ring, si, finished_total, gap_days, bars_per_day, current):
    """Push the finished day and ``gap_days`` empty days into the ring; return the new threshold
    (trailing mean of the ring, oldest first, / bars per day; unchanged if that mean is not > 0)."""
    window = ring.shape[0]
    pushes = 1 + min(gap_days, window)
    for j in range(pushes):
        ring[si[I_RING_POS]] = finished_total if j == 0 else 0.0
        si[I_RING_POS] = (si[I_RING_POS] + 1) % window
        si[I_DAYS_SEEN] += 1
    filled = min(si[I_DAYS_SEEN], window)
    total = 0.0
    for j in range(filled):
        total += ring[(si[I_RING_POS] - filled + j) % window]
    mean = total / filled
    return mean / bars_per_day if mean > 0.0 else current


@njit(cache=True, nogil=True)
def tick_count_limit(threshold):
    """``count >= threshold`` as an integer comparison (count >= ceil(threshold)): no int→float
    conversion per trade."""
    return np.int64(min(np.ceil(threshold), 4.0e18))


@njit(cache=True, nogil=True)
def first_at_or_after(ts, lo, value):
    """First index ``>= lo`` whose timestamp is ``>= value`` (``len(ts)`` if none), for sorted ``ts``
    with ``ts[lo] < value``: a galloping search, so finding the end of a day costs a few dozen reads
    instead of a timestamp test per trade."""
    n = ts.shape[0]
    step = 1
    hi = lo
    while hi < n and ts[hi] < value:
        lo = hi + 1
        hi += step
        step *= 2
    hi = min(hi, n)
    while lo < hi:
        mid = (lo + hi) >> 1
        if ts[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _compile_threshold_kernel(measure: int, dynamic: bool) -> Any:
    """The kernel for one measure and one kind of threshold (see the module docstring for why)."""

    @njit(cache=True, nogil=True)
    def threshold_bars(ts, price, qty, quote, maker, bars_per_day, sf, si, ring, out_f, ends, counts, start):
        """Consume trades ``start..`` into bars; returns (bars written, next trade index).

        Per closed bar it writes high/low/sums to ``out_f``, its last trade index to ``ends`` and its
        trade count to ``counts``. Stops early when the output is full; call again from the returned
        index. The open bar and the dynamic-threshold ring live in ``sf`` / ``si`` / ``ring``.
        """
        n = price.shape[0]
        cap = ends.shape[0]
        weights = TAKER_BUY_WEIGHT
        count = si[I_COUNT]
        high = sf[F_HIGH]
        low = sf[F_LOW]
        volume = sf[F_VOLUME]
        quote_volume = sf[F_QUOTE]
        buy = sf[F_BUY]
        buy_quote = sf[F_BUY_QUOTE]
        threshold = sf[F_THRESHOLD]
        tick_limit = tick_count_limit(threshold)
        day_total = sf[F_DAY_TOTAL]
        day_end = (si[I_DAY] + 1) * DAY_US if si[I_DAY] >= 0 else np.iinfo(np.int64).min
        k = 0
        i = start
        while i < n and k < cap:
            # A segment of trades in one UTC day (the whole batch for a fixed threshold): the
            # day-change test runs once per segment, not once per trade (dynamic dollar bars: 700 M
            # trades/s testing every trade's timestamp, 840 M by segments; fixed: 850 M).
            stop = n
            if dynamic:
                t = ts[i]
                if t >= day_end:
                    day = t // DAY_US
                    if si[I_DAY] >= 0:
                        threshold = next_dynamic_threshold(ring, si, day_total, day - si[I_DAY] - 1,
                                                           bars_per_day, threshold)
                        tick_limit = tick_count_limit(threshold)
                    si[I_DAY] = day
                    day_end = (day + 1) * DAY_US
                    day_total = 0.0
                stop = first_at_or_after(ts, i, day_end)
            # Indexed from 0 over slices: a loop index that starts at 0 is provably non-negative, so
            # Numba's negative-index wraparound (a sign test and select per array read) folds away.
            # Indexing from ``start`` kept it: dollar bars ran at 630 M trades/s, 870 M from 0.
            p_seg = price[i:stop]
            q_seg = qty[i:stop]
            qq_seg = quote[i:stop]
            m_seg = maker[i:stop]
            done = stop - i
            for j in range(stop - i):
                p = p_seg[j]
                q = q_seg[j]
                qq = qq_seg[j]
                if dynamic:
                    if measure == MEASURE_TICKS:
                        day_total += 1.0
                    elif measure == MEASURE_VOLUME:
                        day_total += q
                    else:
                        day_total += qq
                high = max(high, p)
                low = min(low, p)
                weight = weights[m_seg[j]]
                volume += q
                quote_volume += qq
                buy += q * weight
                buy_quote += qq * weight
                count += 1
                if measure == MEASURE_TICKS:
                    reached = count >= tick_limit
                elif measure == MEASURE_VOLUME:
                    reached = volume >= threshold
                else:
                    reached = quote_volume >= threshold
                if reached:
                    out_f[O_HIGH, k] = high
                    out_f[O_LOW, k] = low
                    out_f[O_VOLUME, k] = volume
                    out_f[O_QUOTE, k] = quote_volume
                    out_f[O_BUY, k] = buy
                    out_f[O_BUY_QUOTE, k] = buy_quote
                    ends[k] = i + j
                    counts[k] = count
                    k += 1
                    count = 0
                    high = -np.inf
                    low = np.inf
                    volume = 0.0
                    quote_volume = 0.0
                    buy = 0.0
                    buy_quote = 0.0
                    if k == cap:
                        done = j + 1
                        break
            i += done
        si[I_COUNT] = count
        sf[F_HIGH] = high
        sf[F_LOW] = low
        sf[F_VOLUME] = volume
        sf[F_QUOTE] = quote_volume
        sf[F_BUY] = buy
        sf[F_BUY_QUOTE] = buy_quote
        sf[F_THRESHOLD] = threshold
        sf[F_DAY_TOTAL] = day_total
        return k, i

    return threshold_bars


_KERNELS = {(measure, dynamic): _compile_threshold_kernel(measure, dynamic)
            for measure in (MEASURE_TICKS, MEASURE_VOLUME, MEASURE_QUOTE) for dynamic in (False, True)}


def threshold_kernel(measure: int, dynamic: bool) -> Any:
    """The Numba kernel for ``measure`` (``MEASURE_*``) with a fixed or dynamic threshold; call it as
    ``kernel(ts, price, qty, quote, maker, bars_per_day, sf, si, ring, out_f, ends, counts, start)``."""
    return _KERNELS[(measure, dynamic)]
