"""``cde lake crosscheck``: do the downloaded trades add up to the exchange's own klines?

For each symbol-day, candles are recomputed from the trades lake (:class:`IntervalAggregator`, streamed
by row group) and compared interval by interval with the klines lake: trade count, OHLC, volume, quote
volume and the taker-buy pair. A checksum only proves a file is the one published; this proves what it
holds is whole. A truncated monthly trades file published *with a matching checksum*
(binance-public-data issue #39) shows up here as intervals whose trade counts fall short of the klines'.
Count and prices must agree exactly (both come from the same decimal strings); volumes within a relative
1e-9 (sums of many floats).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from cde_core.errors import NotFoundError
from cde_core.json_types import JsonDate
from cde_core.lake import PART_FILE, Lake
from cde_core.lake_location import LakePath, arrow_target
from cde_core.lake_names import missing_name, partition_values
from cde_exchanges.formats.kline_intervals import interval_us
from cde_exchanges.lake.interval_aggregator import IntervalAggregator
from cde_exchanges.utc_days import day_start_us, days_between

PRICE_FIELDS = ("open", "high", "low", "close")
VOLUME_FIELDS = ("volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume")
RELATIVE_TOLERANCE = 1e-9
TRADE_COLUMNS = ["ts", "price", "qty", "quote_qty", "is_buyer_maker"]

DayStatus = Literal["ok", "mismatch", "no trades", "no klines"]


class CrosscheckRequest(BaseModel):
    """Which klines to hold the trades lake against."""

    exchange: str = Field(description="exchange, e.g. binance")
    market: str = Field(description="market, e.g. spot, um, cm")
    interval: str = Field(description="kline interval in the klines lake, e.g. 1m or 1h")
    symbols: list[str] = Field(default_factory=list, description="symbols; empty = every symbol with klines")
    start: JsonDate | None = Field(None, description="first day (UTC); default: the first in either lake")
    end: JsonDate | None = Field(None, description="last day (UTC), inclusive; default: the last in either lake")


class IntervalMismatch(BaseModel):
    open_time: datetime
    differences: dict[str, tuple[float | None, float | None]] = Field(
        description="field → (from trades, from klines), only the fields that differ")


class DayCrosscheck(BaseModel):
    symbol: str
    date: date
    status: DayStatus
    intervals: int = Field(0, description="intervals compared (with trades or with a kline)")
    mismatches: list[IntervalMismatch] = Field(default_factory=list)


class CrosscheckReport(BaseModel):
    exchange: str
    market: str
    interval: str
    days: list[DayCrosscheck] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(d.status == "ok" for d in self.days)


def crosscheck(lake: Lake, request: CrosscheckRequest) -> CrosscheckReport:
    """Compare every requested symbol-day present in either lake; see the module docstring."""
    step = interval_us(request.interval, request.market)
    report = CrosscheckReport(exchange=request.exchange, market=request.market, interval=request.interval)
    klines_root = lake.hive_dir("klines", ("exchange", request.exchange), ("market", request.market),
                                ("interval", request.interval))
    held = partition_values(klines_root.parent, "interval")
    if held and request.interval not in held:  # other intervals are there: a typo or the wrong one
        raise missing_name("kline interval", request.interval, held, str(klines_root.parent))
    symbols = request.symbols or sorted(p.name.removeprefix("symbol=") for p in klines_root.glob("symbol=*"))
    for symbol in symbols:
        for day in _days(lake, request, symbol):
            trades = lake.trades_dir(request.exchange, request.market, symbol, day) / PART_FILE
            klines = lake.klines_dir(request.exchange, request.market, request.interval, symbol, day) / PART_FILE
            if not trades.exists():
                report.days.append(DayCrosscheck(symbol=symbol, date=day, status="no trades"))
            elif not klines.exists():
                report.days.append(DayCrosscheck(symbol=symbol, date=day, status="no klines"))
            else:
                report.days.append(_compare_day(symbol, day, step, trades, klines))
    if not report.days:  # an empty report must not read as "all agree" (e.g. in a CI job)
        raise NotFoundError(f"nothing to cross-check: no {request.interval} klines or trades of "
                            f"{request.exchange}/{request.market} in the lake for the symbols and days asked",
                            where=str(lake.root),
                            hint=f"download both first: cde download --kind klines --interval {request.interval} "
                                 "… and cde download --kind trades …")
    return report


def _days(lake: Lake, request: CrosscheckRequest, symbol: str) -> list[date]:
    """The requested days, or (without a range) every day either lake holds for ``symbol``."""
    if request.start is not None and request.end is not None:
        return days_between(request.start, request.end)
    folders = [lake.klines_dir(request.exchange, request.market, request.interval, symbol, date(2000, 1, 1)).parent,
               lake.trades_dir(request.exchange, request.market, symbol, date(2000, 1, 1)).parent]
    present = {date.fromisoformat(p.name.removeprefix("date=")) for f in folders for p in f.glob("date=*")}
    return sorted(d for d in present if (request.start is None or d >= request.start)
                  and (request.end is None or d <= request.end))


def _compare_day(symbol: str, day: date, step: int, trades_path: LakePath, klines_path: LakePath) -> DayCrosscheck:
    start = day_start_us(day)
    ours = IntervalAggregator(start, step)
    where, filesystem = arrow_target(trades_path)
    for batch in pq.ParquetFile(where, filesystem=filesystem).iter_batches(columns=TRADE_COLUMNS):
        ours.add(batch)
    where, filesystem = arrow_target(klines_path)
    theirs = _klines_by_interval(pq.read_table(where, filesystem=filesystem), start, step)
    slots = np.flatnonzero((ours.count > 0) | theirs["present"])
    mismatches = []
    for slot in slots.tolist():
        differences = _differences(ours, theirs, slot)
        if differences:
            mismatches.append(IntervalMismatch(
                open_time=datetime.fromtimestamp((start + slot * step) / 1e6, tz=UTC), differences=differences))
    return DayCrosscheck(symbol=symbol, date=day, status="mismatch" if mismatches else "ok", intervals=len(slots),
                         mismatches=mismatches)


def _klines_by_interval(klines: pa.Table, start: int, step: int) -> dict[str, np.ndarray]:
    """The klines as arrays indexed by interval slot of the day (``present`` marks slots with a kline)."""
    n = 86_400_000_000 // step
    slot = (np.asarray(klines.column("open_time").cast(pa.int64())) - start) // step
    keep = (slot >= 0) & (slot < n)
    arrays = {"present": np.zeros(n, bool), "count": np.zeros(n, np.int64)}
    arrays["present"][slot[keep]] = True
    arrays["count"][slot[keep]] = np.asarray(klines.column("count"))[keep]
    for name in PRICE_FIELDS + VOLUME_FIELDS:
        values = np.full(n, np.nan)
        values[slot[keep]] = np.asarray(klines.column(name))[keep]
        arrays[name] = values
    return arrays


def _differences(ours: IntervalAggregator, theirs: dict[str, np.ndarray],
                 slot: int) -> dict[str, tuple[float | None, float | None]]:
    found: dict[str, tuple[float | None, float | None]] = {}
    our_count, their_count = int(ours.count[slot]), int(theirs["count"][slot])
    if our_count != their_count:
        found["count"] = (our_count, their_count)
    if our_count == 0 or their_count == 0:
        return found  # nothing to compare the prices and volumes of
    for name in PRICE_FIELDS:
        a, b = float(getattr(ours, name)[slot]), float(theirs[name][slot])
        if a != b:
            found[name] = (a, b)
    for name in VOLUME_FIELDS:
        a, b = float(getattr(ours, name)[slot]), float(theirs[name][slot])
        if not np.isclose(a, b, rtol=RELATIVE_TOLERANCE, atol=1e-12):
            found[name] = (a, b)
    return found


def describe(day: DayCrosscheck, *, most: int = 6) -> str:
    """One line for a day that is not ok."""
    if day.status != "mismatch":
        return f"{day.symbol} {day.date}: {day.status}"
    times = [m.open_time.strftime("%H:%M:%S" if m.open_time.second else "%H:%M") for m in day.mismatches]
    shown = ", ".join(times[:most]) + (f" … (+{len(times) - most})" if len(times) > most else "")
    first = day.mismatches[0].differences
    detail = "; ".join(f"{k} {a} vs {b}" for k, (a, b) in list(first.items())[:3])
    return (f"{day.symbol} {day.date}: {len(day.mismatches)} of {day.intervals} intervals differ: {shown} "
            f"(first: {detail}, trades vs klines)")

