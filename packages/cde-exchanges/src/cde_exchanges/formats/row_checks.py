"""Checks that relate a row's columns to each other (and to the file's kline interval), run on each parsed
CSV piece so that the error names the file line.

Why: the per-column value rules (:mod:`cde_exchanges.formats.csv_checks`) accept a kline whose ``low``
is above its ``high``, a ``count`` of -3, a candle of an hour in a file of minute candles (its
``close_time`` is an hour after its ``open_time``, and hours lie on the minute grid) or one that starts
off the interval grid. Each of those is a damaged or misnamed file; stored, it silently corrupts every
``cde lake crosscheck`` against the trades. A check returns the first bad row of a batch and why, or
None; the CSV layer turns that into ``line N: …`` naming the archive file.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from cde_core.arrow_views import numpy_view
from cde_exchanges.formats.csv_checks import MICROS_THRESHOLD

#: (row in the batch, what is wrong with it) of a batch's first bad row, or None
RowCheck = Callable[[pa.RecordBatch], "tuple[int, str] | None"]
#: relative slack of "taker-buy part ≤ whole": both are decimals printed by the exchange, so equal
#: amounts parse to equal floats; the slack only spares a last-digit rounding of a derived column
_SLACK = 1e-9


def _first(bad: np.ndarray) -> int | None:
    return int(np.flatnonzero(bad)[0]) if bad.any() else None


def kline_row_check(interval: str, step_us: int) -> RowCheck:
    """The check of a klines file of ``interval`` (``step_us`` long): ``low ≤ open, close ≤ high``; the
    taker-buy volumes within the volumes; ``open_time`` on the interval's grid (intervals are aligned to
    the UTC epoch) and ``close_time`` within its interval (Binance prints its last ms or µs)."""

    def check(batch: pa.RecordBatch) -> tuple[int, str] | None:
        if batch.num_rows == 0:
            return None
        col = {name: numpy_view(batch.column(name)) for name in batch.schema.names}
        o, h, lo, c = col["open"], col["high"], col["low"], col["close"]
        bad = _first((lo > np.minimum(o, c)) | (h < np.maximum(o, c)))
        if bad is not None:
            return bad, (f"open {o[bad]!r}, high {h[bad]!r}, low {lo[bad]!r}, close {c[bad]!r}: "
                         "a candle needs low <= open, close <= high")
        for part, whole in (("taker_buy_volume", "volume"), ("taker_buy_quote_volume", "quote_volume")):
            bad = _first(col[part] > col[whole] * (1 + _SLACK))
            if bad is not None:
                return bad, f"{part} {col[part][bad]!r} is more than {whole} {col[whole][bad]!r}"
        opened, closed = col["open_time"], col["close_time"]
        step = np.where(opened >= MICROS_THRESHOLD, step_us, step_us // 1000)  # the file's unit, per row
        bad = _first(opened % step != 0)
        if bad is not None:
            return bad, (f"open_time {int(opened[bad])} is not on the {interval} grid: the file does not hold "
                         f"{interval} candles")
        bad = _first((closed < opened) | (closed >= opened + step))
        if bad is not None:
            return bad, (f"close_time {int(closed[bad])} is not within the {interval} interval opening at "
                         f"{int(opened[bad])}: the file does not hold {interval} candles")
        return None

    return check
