"""What a batch of trades must satisfy before any bar is built from it.

Time order (within the batch and after the previous batch of the stream), timestamps between
2009-01-01 and tomorrow (an epoch in the wrong unit lands in 1970 or in a far future), finite
positive prices and finite non-negative quantities: a NaN quantity would keep a volume bar open
forever and a NaN price drops out of high / low, with no error anywhere downstream.

All checks are one branch-free Numba pass over the batch (LLVM vectorises it); only a batch that
fails it pays for finding the first bad row. The error names the row, its trade id and its
UTC day; callers that know more (file, symbol, the batch's offset in the file) relocate it with
:meth:`BadTradeError.located`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np
from numba import njit

from cde_bars.trade_columns import TradeColumns
from cde_core.errors import DataError

NUMBA_CACHE_INPUTS = "2b264dfe49043f7d"  # sha256 of the cde code it imports; tools/numba_cache_stamps.py

#: the first Bitcoin block was mined on 2009-01-03; no crypto trade is older
EARLIEST_TS_US = int(datetime(2009, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000
#: clocks of exchanges and of this machine may disagree a little; a day more is a wrong unit
FUTURE_SLACK_US = 86_400 * 1_000_000


class BadTradeError(DataError):
    """A trade that no bar may be built from; ``row`` counts from the start of the checked batch."""

    def __init__(self, problem: str, *, row: int, trade_id: int, ts_us: int, where: str | None,
                 hint: str) -> None:
        self.problem, self.row, self.trade_id, self.ts_us = problem, row, trade_id, ts_us
        super().__init__(f"{problem} at row {row} (trade id {trade_id}{_day_text(ts_us)})", where=where,
                         hint=hint)

    def located(self, *, row_offset: int, where: str) -> BadTradeError:
        """The same error with rows counted from ``row_offset`` earlier and a fuller ``where``."""
        return BadTradeError(self.problem, row=self.row + row_offset, trade_id=self.trade_id,
                             ts_us=self.ts_us, where=where, hint=self.hint or "")


def _day_text(ts_us: int) -> str:
    if not EARLIEST_TS_US <= ts_us <= time.time() * 1_000_000 + FUTURE_SLACK_US:
        return ""
    return ", day " + datetime.fromtimestamp(ts_us / 1e6, tz=UTC).date().isoformat()


#: bit patterns of float64 (read as int64): a finite x >= 0 is 0 <= bits < FINITE_END (-0.0 is not)
FINITE_END = 0x7FF0000000000000
NO_PREVIOUS = -(1 << 63)


@njit(cache=True, nogil=True)
def batch_is_clean(ts: np.ndarray, price: np.ndarray, qty: np.ndarray, quote: np.ndarray, previous: int,
                   earliest: int, latest: int) -> bool:
    """True when no trade breaks a rule (time order after ``previous``, timestamps in
    ``[earliest, latest]``, finite positive prices, finite non-negative quantities).

    The common case, one branch-free pass that LLVM vectorises: the bits of a finite float >= 0, read
    as an int64, lie in ``[0, FINITE_END)`` (NaN, ±inf and negatives fall outside), and ``price - 1``
    in bits excludes 0 too, so a running minimum and maximum of the bit patterns check all three
    columns. It errs only towards False (a quantity of -0.0), and False sends the caller to the exact
    search, so it never lets a bad trade through. (Two separate passes, or float sums and minima,
    took twice as long.)"""
    n = ts.shape[0]
    pi = price.view(np.int64)
    qi = qty.view(np.int64)
    ri = quote.view(np.int64)
    low = np.int64(1)
    high = np.int64(0)
    disorder = False
    last = previous
    for i in range(n):
        a = pi[i] - 1
        b = qi[i]
        c = ri[i]
        low = min(low, min(a, min(b, c)))
        high = max(high, max(a, max(b, c)))
        t = ts[i]
        disorder |= t < last
        last = t
    if n and (ts[0] < earliest or ts[n - 1] > latest):  # in order, the ends bound every row
        return False
    return not disorder and low >= 0 and high < FINITE_END - 1


@njit(cache=True, nogil=True)
def first_out_of_order(ts: np.ndarray, previous: int) -> int:
    """Index of the first timestamp earlier than its predecessor (``previous`` before index 0), or -1."""
    last = previous
    for i in range(ts.shape[0]):
        if ts[i] < last:
            return i
        last = ts[i]
    return -1


@njit(cache=True, nogil=True)
def first_bad_value(price: np.ndarray, qty: np.ndarray, quote: np.ndarray) -> int:
    """Index of the first trade with a non-finite or non-positive price or a non-finite or negative
    quantity (``qty`` / ``quote``), or -1. Comparisons with NaN are false, so NaN fails every test."""
    for i in range(price.shape[0]):
        p = price[i]
        q = qty[i]
        qq = quote[i]
        if not ((p > 0.0) & (p < np.inf) & (q >= 0.0) & (q < np.inf) & (qq >= 0.0) & (qq < np.inf)):
            return i
    return -1


def _value_problem(cols: TradeColumns, row: int) -> str:
    for name, values, positive in (("price", cols.price, True), ("qty", cols.qty, False),
                                   ("quote_qty", cols.quote, False)):
        value = float(values[row])
        if not np.isfinite(value) or value < 0 or (positive and value == 0):
            kind = "non-finite" if not np.isfinite(value) else ("non-positive" if positive else "negative")
            return f"{kind} {name} {value!r}"
    return "invalid trade"  # pragma: no cover - first_bad_value found one of the above


def check_trades(cols: TradeColumns, previous_ts: int | None, *, where: str) -> None:
    """Raise :class:`BadTradeError` at the first trade of ``cols`` bars cannot be built from."""
    previous = NO_PREVIOUS if previous_ts is None else previous_ts
    latest = int(time.time() * 1_000_000) + FUTURE_SLACK_US
    if batch_is_clean(cols.ts, cols.price, cols.qty, cols.quote, previous, EARLIEST_TS_US, latest):
        return
    bad = first_out_of_order(cols.ts, previous)
    if bad >= 0:
        raise BadTradeError("trades are not in time order", row=bad, trade_id=int(cols.trade_id[bad]),
                            ts_us=int(cols.ts[bad]), where=where,
                            hint="sort the trades by ts (and trade id) before building bars")
    n = len(cols)
    if n == 0:  # pragma: no cover - an empty batch is clean
        return
    if cols.ts[0] < EARLIEST_TS_US or cols.ts[n - 1] > latest:  # sorted: the ends bound every row
        early = cols.ts[0] < EARLIEST_TS_US
        row = 0 if early else int(np.searchsorted(cols.ts, latest, side="right"))
        when = np.datetime64(int(cols.ts[row]), "us")
        raise BadTradeError(f"timestamp {when} is {'before 2009' if early else 'in the future'}", row=row,
                            trade_id=int(cols.trade_id[row]), ts_us=int(cols.ts[row]), where=where,
                            hint="the epoch unit is probably wrong: integers must be named with "
                                 "ts_unit ('s', 'ms', 'us', 'ns'), timestamps cast with their own unit")
    bad = first_bad_value(cols.price, cols.qty, cols.quote)
    if bad >= 0:
        raise BadTradeError(f"trade with {_value_problem(cols, bad)}", row=bad,
                            trade_id=int(cols.trade_id[bad]), ts_us=int(cols.ts[bad]), where=where,
                            hint="prices must be finite and > 0, qty and quote_qty finite and >= 0: "
                                 "drop or repair such rows (or re-download that day) first")
