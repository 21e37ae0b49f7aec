"""Slots of the state and output arrays shared by every kernel.

A builder's state is two small numpy arrays (floats, ints) plus a ring of daily totals, so it can be
copied, pickled and serialised for resuming, and a kernel loads it into scalars on entry and stores
it back on exit. Module-level ints are compile-time constants for Numba.
"""

# -- float state -------------------------------------------------------------------------------
F_OPEN = 0
F_HIGH = 1
F_LOW = 2
F_CLOSE = 3          # last traded price (stays after a bar closes: forward-fill and tick rule use it)
F_VOLUME = 4
F_QUOTE = 5
F_BUY = 6
F_BUY_QUOTE = 7
F_POS = 8            # information bars: sum of signed measure where the sign is +1
F_NEG = 9            # ... and where it is -1 (kept positive)
F_EXP_TICKS = 10     # EWMA of bar length in trades
F_EXP_A = 11         # imbalance: EWMA of per-trade imbalance; run: EWMA of per-trade + side
F_EXP_B = 12         # imbalance: EWMA of per-trade |measure|; run: EWMA of per-trade - side
F_THRESHOLD = 13     # threshold in force for the open bar
F_DAY_TOTAL = 14     # dynamic thresholds: measure accumulated in the current UTC day
N_FLOAT = 15

# -- int state ---------------------------------------------------------------------------------
I_COUNT = 0          # trades in the open bar (0 = no open bar)
I_OPEN_TS = 1
I_OPEN_ID = 2
I_LAST_TS = 3
I_LAST_ID = 4
I_BARS = 5           # bars closed so far (EWMA warm-up)
I_PERIOD = 6         # time bars: period index of the open bar (ts // interval)
I_HAS_PREV = 7       # a trade has been seen (time bars: forward-fill needs a previous close)
I_SIGN = 8           # tick rule: last non-zero sign (+1 / -1), 0 before the first price change
I_DAY = 9            # dynamic thresholds: current UTC day number (-1 before the first trade)
I_DAYS_SEEN = 10     # dynamic thresholds: completed days pushed to the ring
I_RING_POS = 11      # dynamic thresholds: next ring slot
N_INT = 12

# -- output rows (floats; the int outputs are separate 1-d arrays: ends, counts, periods) ------------
# Only what cannot be gathered from the batch by index is written per bar: open / close / ts / ids
# are looked up afterwards from each bar's first and last trade index. Fewer live values in the loop
# keep the running sums in registers (writing ts and ids per bar cost the dollar kernel ~35%).
O_HIGH = 0
O_LOW = 1
O_VOLUME = 2
O_QUOTE = 3
O_BUY = 4
O_BUY_QUOTE = 5
N_OUT_FLOAT = 6

# -- measures ----------------------------------------------------------------------------------
MEASURE_TICKS = 0
MEASURE_VOLUME = 1
MEASURE_QUOTE = 2

# -- assembled bars: one row per bars-schema column, one column per bar (a row is one Arrow buffer) --
B_OPEN = 0
B_HIGH = 1
B_LOW = 2
B_CLOSE = 3
B_VOLUME = 4
B_QUOTE = 5
B_VWAP = 6
B_BUY = 7
B_BUY_QUOTE = 8
N_BAR_FLOAT = 9
B_TS = 0
B_TS_CLOSE = 1
B_N_TRADES = 2
B_FIRST_ID = 3
B_LAST_ID = 4
B_PERIOD_START = 5   # time bars only
N_BAR_INT = 6
