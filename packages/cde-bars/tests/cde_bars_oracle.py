"""Slow, obvious pure-Python reference bar builders: one dict per trade step, no tricks.

They follow the definitions in docs/bars.md line by line; the Numba kernels must give identical
bars (bit for bit: the reference adds the same numbers in the same order).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

DAY_US = 86_400_000_000


@dataclass
class Trade:
    ts: int
    trade_id: int
    price: float
    qty: float
    quote: float
    maker: bool


@dataclass
class OpenBar:
    ts: int
    first_id: int
    open: float
    high: float
    low: float
    close: float = 0.0
    ts_close: int = 0
    last_id: int = 0
    volume: float = 0.0
    quote_volume: float = 0.0
    buy_volume: float = 0.0
    buy_quote_volume: float = 0.0
    n_trades: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls, t: Trade) -> OpenBar:
        return cls(ts=t.ts, first_id=t.trade_id, open=t.price, high=t.price, low=t.price)

    def add(self, t: Trade) -> None:
        self.high = max(self.high, t.price)
        self.low = min(self.low, t.price)
        self.close = t.price
        self.ts_close = t.ts
        self.last_id = t.trade_id
        self.volume += t.qty
        self.quote_volume += t.quote
        if not t.maker:
            self.buy_volume += t.qty
            self.buy_quote_volume += t.quote
        self.n_trades += 1

    def row(self) -> dict[str, Any]:
        vwap = self.quote_volume / self.volume if self.volume > 0 else self.close
        row = {"ts": self.ts, "ts_close": self.ts_close, "open": self.open, "high": self.high,
               "low": self.low, "close": self.close, "volume": self.volume,
               "quote_volume": self.quote_volume, "vwap": vwap, "n_trades": self.n_trades,
               "buy_volume": self.buy_volume, "buy_quote_volume": self.buy_quote_volume,
               "first_trade_id": self.first_id, "last_trade_id": self.last_id}
        row.update(self.extra)
        return row


def measure_of(t: Trade, measure: str) -> float:
    return {"tick": 1.0, "volume": t.qty, "dollar": t.quote}[measure]


def threshold_bars(trades: list[Trade], measure: str, threshold: float, bars_per_day: float | None = None,
                   window_days: int = 7) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Closed bars and the unfinished one. A bar closes on the trade that makes its running
    measure reach the threshold. Dynamic: at each new UTC day, threshold = mean of the last
    ``window_days`` daily totals (gap days count as 0) / bars_per_day, if that mean is > 0."""
    bars: list[dict[str, Any]] = []
    bar: OpenBar | None = None
    running = 0.0
    day: int | None = None
    day_total = 0.0
    history: list[float] = []
    for t in trades:
        if bars_per_day is not None:
            d = t.ts // DAY_US
            if day is not None and d != day:
                history.append(day_total)
                history.extend([0.0] * min(d - day - 1, window_days))
                window = history[-window_days:]
                total = 0.0
                for x in window:
                    total += x
                mean = total / len(window)
                if mean > 0:
                    threshold = mean / bars_per_day
                day_total = 0.0
            day = d
            day_total += measure_of(t, measure)
        if bar is None:
            bar = OpenBar.start(t)
            running = 0.0
        bar.add(t)
        running = {"tick": float(bar.n_trades), "volume": bar.volume, "dollar": bar.quote_volume}[measure]
        if running >= threshold:
            bars.append(bar.row())
            bar = None
    return bars, bar.row() if bar else None


def time_bars(trades: list[Trade], interval_us: int, fill: bool) -> tuple[list[dict[str, Any]],
                                                                         dict[str, Any] | None]:
    """Bars per ``[k·Δ, (k+1)·Δ)``; with ``fill`` empty intervals between trades become bars at the
    previous close (ts = ts_close = interval start, ids = the last trade id, no volume)."""
    bars: list[dict[str, Any]] = []
    bar: OpenBar | None = None
    period: int | None = None
    for t in trades:
        k = t.ts // interval_us
        if bar is not None and k != period:
            bars.append(bar.row())
            last = bar
            bar = None
            if fill:
                for empty in range(period + 1, k):  # type: ignore[operator]
                    start = empty * interval_us
                    bars.append({"ts": start, "ts_close": start, "open": last.close, "high": last.close,
                                 "low": last.close, "close": last.close, "volume": 0.0,
                                 "quote_volume": 0.0, "vwap": last.close, "n_trades": 0,
                                 "buy_volume": 0.0, "buy_quote_volume": 0.0,
                                 "first_trade_id": last.last_id, "last_trade_id": last.last_id,
                                 "period_start": start})
        if bar is None:
            bar = OpenBar.start(t)
            bar.extra["period_start"] = k * interval_us
            period = k
        bar.add(t)
    return bars, bar.row() if bar else None


def information_bars(trades: list[Trade], measure: str, run: bool, *, expected_ticks_init: float = 1000.0,
                     expected_ticks_min: float = 100.0, expected_ticks_max: float = 10000.0,
                     ewma_bars: int = 20, side: str = "taker", imbalance_floor: float = 0.1,
                     ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Imbalance / run bars as documented: sign b, size v, pos/neg sums, EWMA expectations over
    closed bars, warm-up from the open bar's own means, E[T] clipped, hard cap at E[T] max."""
    alpha = 2.0 / (ewma_bars + 1.0)
    bars: list[dict[str, Any]] = []
    bar: OpenBar | None = None
    pos = neg = 0.0
    closed = 0
    exp_ticks, exp_a, exp_b = expected_ticks_init, 0.0, 0.0
    threshold = 0.0
    sign = 1
    previous_price: float | None = None

    def clipped(x: float) -> float:
        return min(max(x, expected_ticks_min), expected_ticks_max)

    for t in trades:
        if side == "taker":
            b = -1 if t.maker else 1
        else:
            if previous_price is not None and t.price != previous_price:
                sign = 1 if t.price > previous_price else -1
            previous_price = t.price
            b = sign
        v = measure_of(t, measure)
        if bar is None:
            bar = OpenBar.start(t)
            pos = neg = 0.0
        bar.add(t)
        if b > 0:
            pos += v
        else:
            neg += v
        n = bar.n_trades
        if closed == 0:
            if run:
                threshold = clipped(exp_ticks) * (max(pos, neg) / n)
            else:
                e = clipped(exp_ticks)
                threshold = max(e * abs(pos - neg), imbalance_floor * math.sqrt(e) * (pos + neg)) / n
        theta = max(pos, neg) if run else abs(pos - neg)
        # a volume or dollar θ of 0 (trades of zero size) carries no information; a tick count's θ is
        # judged as it always was (the kernel compares counts to their limit alone)
        if (theta >= threshold and (theta > 0 or measure == "tick")) or n >= expected_ticks_max:
            bars.append(bar.row())
            bar = None
            a, c = (pos / n, neg / n) if run else (pos - neg, pos + neg)
            if closed == 0:  # imbalance: E[(pos - neg)/T] moves from a balanced prior of 0
                exp_ticks, exp_a, exp_b = float(n), (a if run else alpha * a), c
            else:
                exp_ticks += alpha * (n - exp_ticks)
                exp_a += alpha * (a - exp_a)
                exp_b += alpha * (c - exp_b)
            closed += 1
            if run:
                threshold = clipped(exp_ticks) * max(exp_a, exp_b)
            else:
                e = clipped(exp_ticks)
                threshold = max(e * abs(exp_a), imbalance_floor * math.sqrt(e) * exp_b) / exp_ticks
    return bars, bar.row() if bar else None


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))
