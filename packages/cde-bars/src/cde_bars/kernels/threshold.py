"""Tick, volume and dollar bars: close a bar when its running count / base volume / quote volume
reaches the threshold (the trade that reaches it belongs to the bar it closes).

With ``dynamic`` the threshold is re-derived at every UTC day change from the measure of the past
``len(ring)`` days only (trailing mean / bars per day), so a bar never uses the day it is in.
"""

from __future__ import annotations

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
    MEASURE_TICKS,
    MEASURE_VOLUME,
    O_BUY,
    O_BUY_QUOTE,
    O_HIGH,
    O_LOW,
    O_QUOTE,
    O_VOLUME,
)

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
def threshold_bars(ts, price, qty, quote, maker, measure, dynamic, bars_per_day,
                   sf, si, ring, out_f, ends, counts, start):
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
    next_index = n
    for i in range(start, n):
        p = price[i]
        q = qty[i]
        qq = quote[i]
        if dynamic:
            if ts[i] >= day_end:
                day = ts[i] // DAY_US
                if si[I_DAY] >= 0:
                    threshold = next_dynamic_threshold(ring, si, day_total, day - si[I_DAY] - 1,
                                                       bars_per_day, threshold)
                    tick_limit = tick_count_limit(threshold)
                si[I_DAY] = day
                day_end = (day + 1) * DAY_US
                day_total = 0.0
            if measure == MEASURE_TICKS:
                day_total += 1.0
            elif measure == MEASURE_VOLUME:
                day_total += q
            else:
                day_total += qq
        high = max(high, p)
        low = min(low, p)
        weight = weights[maker[i]]
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
            ends[k] = i
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
                next_index = i + 1
                break
    si[I_COUNT] = count
    sf[F_HIGH] = high
    sf[F_LOW] = low
    sf[F_VOLUME] = volume
    sf[F_QUOTE] = quote_volume
    sf[F_BUY] = buy
    sf[F_BUY_QUOTE] = buy_quote
    sf[F_THRESHOLD] = threshold
    sf[F_DAY_TOTAL] = day_total
    return k, next_index
