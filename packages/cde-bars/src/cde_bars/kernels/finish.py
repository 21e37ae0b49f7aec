"""After a bar kernel's call: gather the closed bars' columns and carry the open bar's first trade.

The bar kernels write only what needs the running loop (high, low, sums, last-trade index, count);
open / close / timestamps / ids are looked up here from each bar's first and last trade index, or
from the carried state when the bar began (or ended) in an earlier batch. This used to be ~30 numpy
expressions and a few numpy scalar writes per call; as one compiled loop it costs one dispatch, which
is what keeps ``update()`` on the lake reader's 2^17-trade batches as fast as on 2^20 ones.
"""

from __future__ import annotations

from numba import njit

from cde_bars.kernels.layout import (
    B_BUY,
    B_BUY_QUOTE,
    B_CLOSE,
    B_FIRST_ID,
    B_HIGH,
    B_LAST_ID,
    B_LOW,
    B_N_TRADES,
    B_OPEN,
    B_PERIOD_START,
    B_QUOTE,
    B_TS,
    B_TS_CLOSE,
    B_VOLUME,
    B_VWAP,
    F_CLOSE,
    F_OPEN,
    I_COUNT,
    I_LAST_ID,
    I_LAST_TS,
    I_OPEN_ID,
    I_OPEN_TS,
    O_BUY,
    O_BUY_QUOTE,
    O_HIGH,
    O_LOW,
    O_QUOTE,
    O_VOLUME,
)

NUMBA_CACHE_INPUTS = "6544c9e4d49a3e28"  # sha256 of the cde code it imports; tools/numba_cache_stamps.py


@njit(cache=True, nogil=True)
def finish_call(ts, trade_id, price, sf, si, before_f, before_i, start, next_index, k, out_f, ends, counts,
                periods, interval_us, bar_f, bar_i, first_column):
    """Write the ``k`` bars closed by a kernel call that consumed trades ``start..next_index`` into
    columns ``first_column..first_column+k`` of ``bar_f`` / ``bar_i`` (layout ``B_*``), then record
    in ``sf`` / ``si`` the open bar's first trade (when it began in this call) and the last trade
    seen. ``before_*`` is the state before the call; ``interval_us`` > 0 marks time bars (``periods``
    valid, empty intervals at their start)."""
    count_before = before_i[I_COUNT]
    for j in range(k):
        end = ends[j]
        count = counts[j]
        real = count > 0
        first = end - count + 1
        carried = real and count_before > 0 and first < start
        high = out_f[O_HIGH, j]
        if end >= 0:
            last_price = price[end]
            last_ts = ts[end]
            last_id = trade_id[end]
        else:
            last_price = before_f[F_CLOSE]
            last_ts = before_i[I_LAST_TS]
            last_id = before_i[I_LAST_ID]
        if carried:
            first_price = before_f[F_OPEN]
            first_ts = before_i[I_OPEN_TS]
            first_id = before_i[I_OPEN_ID]
        else:
            at = first if real else 0
            first_price = price[at]
            first_ts = ts[at]
            first_id = trade_id[at]
        period_start = 0
        if interval_us > 0:
            period_start = periods[j] * interval_us
            if not real:  # a filled interval: at its start, at the previous close and last id
                first_ts = period_start
                last_ts = period_start
                first_id = last_id
                first_price = high
                last_price = high
        volume = out_f[O_VOLUME, j]
        quote = out_f[O_QUOTE, j]
        col = first_column + j
        bar_f[B_OPEN, col] = first_price
        bar_f[B_HIGH, col] = high
        bar_f[B_LOW, col] = out_f[O_LOW, j]
        bar_f[B_CLOSE, col] = last_price
        bar_f[B_VOLUME, col] = volume
        bar_f[B_QUOTE, col] = quote
        bar_f[B_VWAP, col] = quote / volume if volume > 0.0 else last_price
        bar_f[B_BUY, col] = out_f[O_BUY, j]
        bar_f[B_BUY_QUOTE, col] = out_f[O_BUY_QUOTE, j]
        bar_i[B_TS, col] = first_ts
        bar_i[B_TS_CLOSE, col] = last_ts
        bar_i[B_N_TRADES, col] = count
        bar_i[B_FIRST_ID, col] = first_id
        bar_i[B_LAST_ID, col] = last_id
        bar_i[B_PERIOD_START, col] = period_start
    if next_index > start:
        open_count = si[I_COUNT]
        first = next_index - open_count
        if open_count and first >= start:
            sf[F_OPEN] = price[first]
            si[I_OPEN_TS] = ts[first]
            si[I_OPEN_ID] = trade_id[first]
        last = next_index - 1
        sf[F_CLOSE] = price[last]
        si[I_LAST_TS] = ts[last]
        si[I_LAST_ID] = trade_id[last]
