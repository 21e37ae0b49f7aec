"""Imbalance and run bars (López de Prado, *Advances in Financial Machine Learning*, ch. 2.3.2).

Every trade gets a sign b (+1 taker buy / -1 taker sell, or the tick rule) and a size v (1, base
qty or quote qty). A bar keeps ``pos`` = Σ v over b = +1 and ``neg`` = Σ v over b = -1 and closes
at the first trade where

* imbalance: ``|pos - neg| >= E[T] · max(|E[(pos-neg)/T]|, floor · E[(pos+neg)/T])``
* run:       ``max(pos, neg) >= E[T] · max(E[pos/T], E[neg/T])``

The expectations are EWMAs over closed bars (``alpha``), E[T] clipped to ``[ticks_min, ticks_max]``
so bars neither collapse to single trades nor grow without end. Before the first bar closes
(warm-up) E[T] is the initial value and the per-trade expectations are the open bar's own
running means.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cde_bars.kernels.layout import (
    F_BUY,
    F_BUY_QUOTE,
    F_CLOSE,
    F_EXP_A,
    F_EXP_B,
    F_EXP_TICKS,
    F_HIGH,
    F_LOW,
    F_NEG,
    F_POS,
    F_QUOTE,
    F_THRESHOLD,
    F_VOLUME,
    I_BARS,
    I_COUNT,
    I_SIGN,
    MEASURE_TICKS,
    MEASURE_VOLUME,
    O_BUY,
    O_BUY_QUOTE,
    O_HIGH,
    O_LOW,
    O_QUOTE,
    O_VOLUME,
)
from cde_bars.kernels.threshold import TAKER_BUY_WEIGHT

#: indexed by (sign + 1) // 2: the weight of a trade in the ``pos`` sum (branch-free)
POSITIVE_WEIGHT = np.array([0.0, 1.0])


@njit(cache=True, nogil=True)
def information_bars(price, qty, quote, maker, measure, run, tick_rule, alpha, ticks_min, ticks_max,
                     floor, sf, si, out_f, ends, counts, start):
    """Consume trades ``start..``; returns (bars written, next trade index). Outputs as
    :func:`cde_bars.kernels.threshold.threshold_bars`."""
    # Indexed from 0 over slices so Numba's negative-index wraparound folds away (see
    # cde_bars.kernels.threshold).
    price = price[start:]
    qty = qty[start:]
    quote = quote[start:]
    maker = maker[start:]
    n = price.shape[0]
    cap = ends.shape[0]
    weights = TAKER_BUY_WEIGHT
    pos_weights = POSITIVE_WEIGHT
    count = si[I_COUNT]
    bars = si[I_BARS]
    sign = si[I_SIGN]
    last_price = sf[F_CLOSE]
    high = sf[F_HIGH]
    low = sf[F_LOW]
    volume = sf[F_VOLUME]
    quote_volume = sf[F_QUOTE]
    buy = sf[F_BUY]
    buy_quote = sf[F_BUY_QUOTE]
    pos = sf[F_POS]
    neg = sf[F_NEG]
    exp_ticks = sf[F_EXP_TICKS]
    exp_a = sf[F_EXP_A]
    exp_b = sf[F_EXP_B]
    threshold = sf[F_THRESHOLD]
    k = 0
    next_index = n
    for i in range(n):
        p = price[i]
        q = qty[i]
        qq = quote[i]
        weight = weights[maker[i]]
        if tick_rule:
            move = int(p > last_price) - int(p < last_price)
            sign = move if move != 0 else sign
            last_price = p
            positive = pos_weights[(sign + 1) >> 1]
        else:
            positive = weight
        if measure == MEASURE_TICKS:
            v = 1.0
        elif measure == MEASURE_VOLUME:
            v = q
        else:
            v = qq
        high = max(high, p)
        low = min(low, p)
        volume += q
        quote_volume += qq
        buy += q * weight
        buy_quote += qq * weight
        pos += v * positive
        neg += v * (1.0 - positive)
        count += 1
        if bars == 0:
            expected_ticks = min(max(exp_ticks, ticks_min), ticks_max)
            if run:
                threshold = expected_ticks * (max(pos, neg) / count)
            else:
                threshold = expected_ticks * (max(abs(pos - neg), floor * (pos + neg)) / count)
        theta = max(pos, neg) if run else abs(pos - neg)
        if theta >= threshold or count >= ticks_max:
            out_f[O_HIGH, k] = high
            out_f[O_LOW, k] = low
            out_f[O_VOLUME, k] = volume
            out_f[O_QUOTE, k] = quote_volume
            out_f[O_BUY, k] = buy
            out_f[O_BUY_QUOTE, k] = buy_quote
            ends[k] = start + i
            counts[k] = count
            k += 1
            if run:
                a = pos / count
                b = neg / count
            else:
                a = (pos - neg) / count
                b = (pos + neg) / count
            if bars == 0:
                exp_ticks = float(count)
                exp_a = a
                exp_b = b
            else:
                exp_ticks += alpha * (count - exp_ticks)
                exp_a += alpha * (a - exp_a)
                exp_b += alpha * (b - exp_b)
            bars += 1
            expected_ticks = min(max(exp_ticks, ticks_min), ticks_max)
            expected_per_trade = max(exp_a, exp_b) if run else max(abs(exp_a), floor * exp_b)
            threshold = expected_ticks * expected_per_trade
            count = 0
            high = -np.inf
            low = np.inf
            volume = 0.0
            quote_volume = 0.0
            buy = 0.0
            buy_quote = 0.0
            pos = 0.0
            neg = 0.0
            if k == cap:
                next_index = i + 1
                break
    si[I_COUNT] = count
    si[I_BARS] = bars
    si[I_SIGN] = sign
    sf[F_CLOSE] = last_price
    sf[F_HIGH] = high
    sf[F_LOW] = low
    sf[F_VOLUME] = volume
    sf[F_QUOTE] = quote_volume
    sf[F_BUY] = buy
    sf[F_BUY_QUOTE] = buy_quote
    sf[F_POS] = pos
    sf[F_NEG] = neg
    sf[F_EXP_TICKS] = exp_ticks
    sf[F_EXP_A] = exp_a
    sf[F_EXP_B] = exp_b
    sf[F_THRESHOLD] = threshold
    return k, start + next_index
