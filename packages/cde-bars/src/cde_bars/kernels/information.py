"""Imbalance and run bars (López de Prado, *Advances in Financial Machine Learning*, ch. 2.3.2).

Every trade gets a sign b (+1 taker buy / -1 taker sell, or the tick rule) and a size v (1, base
qty or quote qty). A bar keeps ``pos`` = Σ v over b = +1 and ``neg`` = Σ v over b = -1 and closes
at the first trade where

* imbalance: ``|pos - neg| >= max(E[T] · |m|, floor · √E[T] · s)`` with the trade-weighted per-trade
  means ``m = E[pos - neg] / E[T]`` and ``s = E[pos + neg] / E[T]`` (EWMAs of the bar sums)
* run:       ``max(pos, neg) >= E[T] · max(E[pos/T], E[neg/T])``

The expectations are EWMAs over closed bars (``alpha``), E[T] clipped to ``[ticks_min, ticks_max]``
where it scales the threshold, so bars neither collapse to single trades nor grow without end; the
imbalance EWMA starts from a balanced prior (α times the first bar's imbalance). The floor grows with
√E[T], as a balanced random walk does, so on balanced flow E[T] contracts instead of feeding on
itself. Before the first bar closes (warm-up) E[T] is the initial value and the per-trade
expectations are the open bar's own running means.

One loop body, compiled twelve times (measure × imbalance/run × taker side/tick rule), as
:func:`cde_bars.kernels.threshold.threshold_kernel` does and for the same reasons: each compiled loop
keeps only its own variant's work. Per variant that allows what a shared loop cannot:

* tick measure: ``pos`` / ``neg`` are trade counts, kept as one integer (``neg = count - pos``) and
  compared with the threshold rounded up to an integer, exactly as the float sums of 1.0 compare;
* volume / dollar measure with the taker side: ``pos`` is the bar's buy (quote) volume, summed by
  the same operations, so it is not summed twice;
* the bar-length cap is an integer comparison (no int→float conversion per trade), and the warm-up
  threshold is set outside the loop one trade at a time, so the loop has no warm-up test.

20 M synthetic trades, one core of the 2-core development VM, old and new in one process: the six
taker-side kernels went from 400–437 M trades/s (0.32–0.35× the memory-read floor) to 626–687 M
(0.50–0.54×), the tick-rule ones from 300–327 M to 327–448 M. Specialising alone gave ~5 %; most of
the rest came from the integer counts, ``pos`` = buy volume and the warm-up test leaving the loop.
Tried and not kept (no steady gain): closing bars after the loop (imbalance bars +0–14 %, run bars,
~100 trades a bar, −9 %: per-bar slicing), ending segments at the ``ticks_max`` cap instead of
testing it per trade (−2 % to +5 %), the taker tick count as ``1 - maker`` instead of a lookup
(tick run +7 %, tick imbalance −12 %).
"""

from __future__ import annotations

from typing import Any

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
from cde_bars.kernels.threshold import TAKER_BUY_WEIGHT, tick_count_limit

NUMBA_CACHE_INPUTS = "0817bf7a3f0b207e"  # sha256 of the cde code it imports; tools/numba_cache_stamps.py

#: indexed by (sign + 1) // 2: the weight of a trade in the ``pos`` sum (branch-free)
POSITIVE_WEIGHT = np.array([0.0, 1.0])
#: indexed by ``is_buyer_maker`` or by (1 - sign) // 2: the weight of a trade in the ``neg`` sum
NEGATIVE_WEIGHT = np.array([0.0, 1.0])
#: indexed by ``is_buyer_maker``: a trade's contribution to the taker-buy count (tick measure)
TAKER_BUY_COUNT = np.array([1, 0], dtype=np.int64)


def _compile_information_kernel(measure: int, run: bool, tick_rule: bool) -> Any:
    """The kernel for one measure, one bar kind and one sign rule (see the module docstring)."""
    # Constants of this compiled loop: which running sum is ``pos`` and how ``neg`` is kept.
    counts_only = measure == MEASURE_TICKS        # pos / neg are trade counts: integers, neg = count - pos
    # Taker side: pos is the buy (quote) volume itself. Both slots start at 0.0 and are reset together
    # (here and in cde_bars.flush), so the carried F_POS equals F_BUY / F_BUY_QUOTE bit for bit.
    pos_is_buy = not tick_rule and not counts_only

    @njit(cache=True, nogil=True)
    def information_bars(price, qty, quote, maker, alpha, ticks_min, ticks_max, floor, sf, si, out_f, ends,
                         counts, start):
        """Consume trades ``start..``; returns (bars written, next trade index). Outputs as
        :func:`cde_bars.kernels.threshold.threshold_bars`."""
        n = price.shape[0]
        cap = ends.shape[0]
        weights = TAKER_BUY_WEIGHT
        pos_weights = POSITIVE_WEIGHT
        neg_weights = NEGATIVE_WEIGHT
        pos_counts = TAKER_BUY_COUNT
        count_max = tick_count_limit(ticks_max)
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
        pos_n = np.int64(pos)
        exp_ticks = sf[F_EXP_TICKS]
        exp_a = sf[F_EXP_A]
        exp_b = sf[F_EXP_B]
        threshold = sf[F_THRESHOLD]
        theta_limit = tick_count_limit(threshold)
        k = 0
        i = start
        while i < n and k < cap:
            stop = n
            if bars == 0:
                # Warm-up: the threshold follows the open bar's own means, so it is set here for one
                # trade at a time from that trade's pos / neg / count (the same operations as the loop
                # below, so the same bits) and the loop needs no warm-up test (with the test in the
                # loop LLVM did not unswitch it: tick run bars 590 M trades/s, 646 M without).
                stop = i + 1
                p = price[i]
                m = maker[i]
                v = 1.0 if counts_only else (qty[i] if measure == MEASURE_VOLUME else quote[i])
                s_index = pos_counts[m]
                if tick_rule:
                    move = int(p > last_price) - int(p < last_price)
                    s_index = ((move if move != 0 else sign) + 1) >> 1
                if counts_only:
                    pos_1 = float(pos_n + s_index)
                    neg_1 = float(count + 1 - pos_n - s_index)
                else:
                    pos_1 = pos + v * pos_weights[s_index]
                    neg_1 = neg + v * neg_weights[1 - s_index]
                expected_ticks = min(max(exp_ticks, ticks_min), ticks_max)
                if run:
                    threshold = expected_ticks * (max(pos_1, neg_1) / (count + 1))
                else:
                    threshold = max(expected_ticks * abs(pos_1 - neg_1),
                                    floor * np.sqrt(expected_ticks) * (pos_1 + neg_1)) / (count + 1)
                theta_limit = tick_count_limit(threshold)
            # Indexed from 0 over slices so Numba's negative-index wraparound folds away (see
            # cde_bars.kernels.threshold).
            p_seg = price[i:stop]
            q_seg = qty[i:stop]
            qq_seg = quote[i:stop]
            m_seg = maker[i:stop]
            done = stop - i
            for j in range(stop - i):
                p = p_seg[j]
                q = q_seg[j]
                qq = qq_seg[j]
                m = m_seg[j]
                weight = weights[m]
                if tick_rule:
                    move = int(p > last_price) - int(p < last_price)
                    sign = move if move != 0 else sign
                    last_price = p
                high = max(high, p)
                low = min(low, p)
                volume += q
                quote_volume += qq
                buy += q * weight
                buy_quote += qq * weight
                count += 1
                if counts_only:
                    if tick_rule:
                        pos_n += (sign + 1) >> 1
                    else:
                        pos_n += pos_counts[m]
                    # |pos - neg| and max(pos, neg) as integers: exact, like the float sums of 1.0
                    theta_n = max(pos_n, count - pos_n) if run else abs(2 * pos_n - count)
                else:
                    v = q if measure == MEASURE_VOLUME else qq
                    if pos_is_buy:
                        pos = buy if measure == MEASURE_VOLUME else buy_quote
                        neg += v * neg_weights[m]
                    else:
                        s_index = (sign + 1) >> 1
                        pos += v * pos_weights[s_index]
                        neg += v * neg_weights[1 - s_index]
                    theta = max(pos, neg) if run else abs(pos - neg)
                # θ > 0: trades of zero size (qty 0) give a threshold of 0 that θ = 0 'reached', so
                # every such trade was a bar of its own, below expected_ticks_min
                reached = theta_n >= theta_limit if counts_only else (theta >= threshold) & (theta > 0.0)
                if reached or count >= count_max:
                    if counts_only:
                        pos = float(pos_n)
                        neg = float(count - pos_n)
                    out_f[O_HIGH, k] = high
                    out_f[O_LOW, k] = low
                    out_f[O_VOLUME, k] = volume
                    out_f[O_QUOTE, k] = quote_volume
                    out_f[O_BUY, k] = buy
                    out_f[O_BUY_QUOTE, k] = buy_quote
                    ends[k] = i + j
                    counts[k] = count
                    k += 1
                    if run:
                        a = pos / count
                        b = neg / count
                    else:  # bar sums: their EWMAs over E[T] are trade-weighted per-trade means
                        a = pos - neg
                        b = pos + neg
                    if bars == 0:
                        exp_ticks = float(count)
                        # imbalance: E[(pos-neg)/T] starts from a balanced prior (0), as one bar's
                        # imbalance is no estimate of it (taken as is, an early one-sided bar set a
                        # threshold of E[T] trades all on one side, and E[T] ran away to the cap)
                        exp_a = a if run else alpha * a
                        exp_b = b
                    else:
                        exp_ticks += alpha * (count - exp_ticks)
                        exp_a += alpha * (a - exp_a)
                        exp_b += alpha * (b - exp_b)
                    bars += 1
                    expected_ticks = min(max(exp_ticks, ticks_min), ticks_max)
                    if run:
                        threshold = expected_ticks * max(exp_a, exp_b)
                    else:
                        threshold = max(expected_ticks * abs(exp_a),
                                        floor * np.sqrt(expected_ticks) * exp_b) / exp_ticks
                    theta_limit = tick_count_limit(threshold)
                    count = 0
                    high = -np.inf
                    low = np.inf
                    volume = 0.0
                    quote_volume = 0.0
                    buy = 0.0
                    buy_quote = 0.0
                    pos = 0.0
                    neg = 0.0
                    pos_n = 0
                    if k == cap:
                        done = j + 1
                        break
            i += done
        if counts_only:
            pos = float(pos_n)
            neg = float(count - pos_n)
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
        return k, i

    return information_bars


_KERNELS = {(measure, run, tick_rule): _compile_information_kernel(measure, run, tick_rule)
            for measure in (MEASURE_TICKS, MEASURE_VOLUME, MEASURE_QUOTE)
            for run in (False, True) for tick_rule in (False, True)}


def information_kernel(measure: int, run: bool, tick_rule: bool) -> Any:
    """The Numba kernel for ``measure`` (``MEASURE_*``), imbalance or run bars and the sign rule; call it
    as ``kernel(price, qty, quote, maker, alpha, ticks_min, ticks_max, floor, sf, si, out_f, ends, counts,
    start)``."""
    return _KERNELS[(measure, run, tick_rule)]
