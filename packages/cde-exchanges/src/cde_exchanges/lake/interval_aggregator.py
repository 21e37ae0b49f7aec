"""Per-interval candles of one UTC day's trades: what an exchange's klines should say about them.

Used twice on purpose: the archive writer derives klines files from generated trades with it (so a
generated archive's klines agree with its trades), and ``cde lake crosscheck`` recomputes candles from
the trades lake with it to compare against the downloaded klines. Batches are fed in file order, so a
day of millions of trades is never held at once; ``open`` / ``close`` are the first / last trade of the
interval in that order (Binance trades files are in trade order).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from cde_core.errors import DataError
from cde_core.schemas import KLINES_SCHEMA

DAY_US = 86_400_000_000


class IntervalAggregator:
    """Running OHLC, volumes, taker-buy volumes and trade counts per interval of one day."""

    def __init__(self, day_start_us: int, interval_us: int) -> None:
        if DAY_US % interval_us:
            raise DataError(f"an interval of {interval_us} µs does not divide a day", where="klines")
        self.day_start_us = day_start_us
        self.interval_us = interval_us
        n = DAY_US // interval_us
        self.count = np.zeros(n, np.int64)
        self.volume = np.zeros(n)
        self.quote_volume = np.zeros(n)
        self.taker_buy_volume = np.zeros(n)
        self.taker_buy_quote_volume = np.zeros(n)
        self.open = np.full(n, np.nan)
        self.high = np.full(n, -np.inf)
        self.low = np.full(n, np.inf)
        self.close = np.full(n, np.nan)

    def add(self, trades: pa.Table | pa.RecordBatch) -> None:
        """Fold canonical trades (``ts, price, qty, quote_qty, is_buyer_maker``) of this day in."""
        if trades.num_rows == 0:
            return
        ts = np.asarray(trades.column("ts").cast(pa.int64()))
        bucket = (ts - self.day_start_us) // self.interval_us
        if bucket.min() < 0 or bucket.max() >= len(self.count):
            raise DataError("a trade lies outside the day being aggregated", where="klines")
        order = np.argsort(bucket, kind="stable")  # stable: file order within an interval
        bucket = bucket[order]
        price = np.asarray(trades.column("price"))[order]
        qty = np.asarray(trades.column("qty"))[order]
        quote = np.asarray(trades.column("quote_qty"))[order]
        taker_buy = ~np.asarray(trades.column("is_buyer_maker"))[order]
        starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
        ends = np.r_[starts[1:], len(bucket)]
        keys = bucket[starts]
        self.count[keys] += ends - starts
        self.volume[keys] += np.add.reduceat(qty, starts)
        self.quote_volume[keys] += np.add.reduceat(quote, starts)
        self.taker_buy_volume[keys] += np.add.reduceat(np.where(taker_buy, qty, 0.0), starts)
        self.taker_buy_quote_volume[keys] += np.add.reduceat(np.where(taker_buy, quote, 0.0), starts)
        self.high[keys] = np.maximum(self.high[keys], np.maximum.reduceat(price, starts))
        self.low[keys] = np.minimum(self.low[keys], np.minimum.reduceat(price, starts))
        unset = np.isnan(self.open[keys])
        self.open[keys[unset]] = price[starts[unset]]
        self.close[keys] = price[ends - 1]

    def table(self, *, close_offset_us: int = 1) -> pa.Table:
        """The intervals that had trades, as :data:`KLINES_SCHEMA` rows; ``close_time`` is the open time +
        interval − ``close_offset_us`` (Binance: the interval's last ms, or last µs in µs files)."""
        keys = np.flatnonzero(self.count)
        open_time = self.day_start_us + keys * self.interval_us
        columns = {
            "open_time": open_time, "close_time": open_time + self.interval_us - close_offset_us,
            "open": self.open[keys], "high": self.high[keys], "low": self.low[keys], "close": self.close[keys],
            "volume": self.volume[keys], "quote_volume": self.quote_volume[keys], "count": self.count[keys],
            "taker_buy_volume": self.taker_buy_volume[keys],
            "taker_buy_quote_volume": self.taker_buy_quote_volume[keys],
        }
        arrays = [pa.array(columns[f.name]).cast(f.type) if f.name.endswith("_time") else
                  pa.array(columns[f.name], f.type) for f in KLINES_SCHEMA]
        return pa.Table.from_arrays(arrays, schema=KLINES_SCHEMA)
