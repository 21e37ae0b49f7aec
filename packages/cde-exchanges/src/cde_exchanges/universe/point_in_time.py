"""Point-in-time asset pool: the top-N symbols by trailing quote volume as of each rebalance date.

A backtest that picks today's top-20 and runs it over the past inherits survivorship bias: the
pairs that were delisted, or were small back then, are silently missing or mis-weighted. Here the
universe as of day D uses only lake partitions of days D-lookback … D-1 (strictly before D), and a
symbol is a candidate exactly when it has at least one partition in that window — so it enters
once it has data and leaves once its data stops, whether or not it still trades today.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, model_validator

from cde_core.errors import ConfigError, NotFoundError
from cde_core.lake import Lake
from cde_core.lake_names import check_hive_path, held_span
from cde_exchanges.universe.daily_volume import daily_quote_volumes

Rebalance = Literal["daily", "weekly", "monthly"]
COLUMNS = ("date", "symbol", "rank", "trailing_quote_volume")


class PointInTimeRequest(BaseModel):
    """The point-in-time universe to compute (shared by the CLI and any API route)."""

    exchange: str = Field("binance", description="exchange in the lake")
    market: str = Field("spot", description="market in the lake")
    n: int = Field(20, ge=1, description="universe size")
    start: date = Field(description="first as-of date")
    end: date = Field(description="last as-of date, inclusive")
    lookback_days: int = Field(7, ge=1, le=3660, description="trailing window of quote volume, days before D")
    rebalance: Rebalance = Field("daily", description="daily; weekly (start, then Mondays); monthly "
                                 "(start, then each 1st)")

    @model_validator(mode="after")
    def _ordered(self) -> PointInTimeRequest:
        if self.end < self.start:
            raise ConfigError(f"end {self.end} is before start {self.start}", where="universe pit",
                              hint="swap --start and --end")
        return self


def rebalance_dates(start: date, end: date, rebalance: Rebalance) -> list[date]:
    """As-of dates in [start, end]: always ``start``, then every day / Monday / first of month."""
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    if rebalance == "weekly":
        return [d for d in days if d == start or d.weekday() == 0]
    if rebalance == "monthly":
        return [d for d in days if d == start or d.day == 1]
    return days


def rank_by_trailing_volume(daily: pd.DataFrame, as_of: list[date], n: int, lookback_days: int) -> pd.DataFrame:
    """Top ``n`` per as-of date from daily volumes (columns date, symbol, quote_volume).

    Only rows with ``as_of - lookback_days <= date < as_of`` count for an as-of date. Ties break by
    symbol so the result is deterministic.
    """
    if not as_of or daily.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in
                             zip(COLUMNS, ("object", "object", "int64", "float64"), strict=True)})
    symbols = sorted(daily["symbol"].unique())
    origin = min(as_of).toordinal() - lookback_days
    span = max(as_of).toordinal() - origin
    volume = np.zeros((span, len(symbols)))
    present = np.zeros((span, len(symbols)), dtype=bool)
    rows = np.array([d.toordinal() for d in daily["date"]]) - origin
    inside = (rows >= 0) & (rows < span)
    columns = pd.Index(symbols).get_indexer(daily["symbol"])
    volume[rows[inside], columns[inside]] = daily["quote_volume"].to_numpy(dtype=float)[inside]
    present[rows[inside], columns[inside]] = True

    offsets = np.array([d.toordinal() for d in as_of]) - origin
    trailing = np.stack([volume[o - lookback_days:o].sum(axis=0) for o in offsets])
    has_data = np.stack([present[o - lookback_days:o].any(axis=0) for o in offsets])

    date_index, symbol_index = np.nonzero(has_data)
    values = trailing[date_index, symbol_index]
    order = np.lexsort((symbol_index, -values, date_index))
    date_index, symbol_index, values = date_index[order], symbol_index[order], values[order]
    group_start = np.searchsorted(date_index, date_index, side="left")
    rank = np.arange(len(date_index)) - group_start + 1
    keep = rank <= n
    return pd.DataFrame({
        "date": np.array(as_of, dtype=object)[date_index[keep]],
        "symbol": np.array(symbols, dtype=object)[symbol_index[keep]],
        "rank": rank[keep].astype(np.int64),
        "trailing_quote_volume": values[keep],
    })


def point_in_time_universe(lake: Lake, exchange: str, market: str, n: int, start: date, end: date,
                           lookback_days: int = 7, rebalance: Rebalance = "daily") -> pd.DataFrame:
    """Top-``n`` symbols by trailing quote volume as of each rebalance date in [start, end].

    Columns: ``date`` (datetime.date, the as-of day the universe applies to), ``symbol``, ``rank``
    (1 = largest), ``trailing_quote_volume`` (sum over days ``date - lookback_days`` … ``date - 1``).
    An as-of date with no data in its window has no rows.
    """
    request = PointInTimeRequest(exchange=exchange, market=market, n=n, start=start, end=end,
                                 lookback_days=lookback_days, rebalance=rebalance)
    check_hive_path(lake.root / lake.trade_tree, ("exchange", exchange), ("market", market))
    as_of = rebalance_dates(request.start, request.end, request.rebalance)
    daily = daily_quote_volumes(lake, exchange, market, start - timedelta(days=lookback_days),
                                end - timedelta(days=1))
    universe = rank_by_trailing_volume(daily, as_of, request.n, request.lookback_days)
    universe.attrs[WINDOW_NOTICES] = partial_window_notices(daily, as_of, request.lookback_days,
                                                               where=f"--exchange {exchange} --market {market}")
    return universe


#: key of the universe frame's ``attrs`` listing as-of dates whose trailing window the lake holds partly
WINDOW_NOTICES = "partial_windows"


def partial_window_notices(daily: pd.DataFrame, as_of: list[date], lookback_days: int, *, where: str = "") -> list[str]:
    """As-of dates whose trailing window reaches past the lake's first or last day of trades, or holds a day
    between them on which no symbol has a partition (a download gap): ranked on fewer days than
    ``lookback_days`` (or left out), which looks like a full universe unless said. ``where`` (the
    ``--exchange``/``--market`` options) completes the download command a notice suggests."""
    if daily.empty:
        return []
    first, last = min(daily["date"]), max(daily["date"])
    notices = []
    late = [d for d in as_of if d - timedelta(days=1) > last]
    if late:
        gone = [d for d in late if d - timedelta(days=lookback_days) > last]
        notices.append(f"{len(late)} as-of date(s) from {late[0]} rank on a trailing window past the lake's "
                       f"last day of trades ({last})" + (f"; from {gone[0]} they have no rows" if gone else "")
                       + ": download the later days, or end the range at " + str(last + timedelta(days=1)))
    early = [d for d in as_of if d - timedelta(days=lookback_days) < first <= d - timedelta(days=1)]
    if early:
        notices.append(f"{len(early)} as-of date(s) up to {early[-1]} rank on fewer than {lookback_days} days: "
                       f"the lake's trades begin {first}")
    held = set(daily["date"])
    holes = [first + timedelta(days=i) for i in range((last - first).days) if first + timedelta(days=i) not in held]
    if holes:  # no symbol has a partition that day: a download gap, not a day without trading
        hit = [d for d in as_of if any(d - timedelta(days=lookback_days) <= h < d for h in holes)]
        if hit:
            shown = ", ".join(str(h) for h in holes[:5]) + (f" and {len(holes) - 5} more" if len(holes) > 5 else "")
            notices.append(f"{len(hit)} as-of date(s) from {hit[0]} rank on a trailing window with day(s) the lake "
                           f"holds no trades of any symbol on ({shown}), counted as zero volume: download "
                           f"those days (`cde download {where} --start {holes[0]} --end {holes[-1]}`)")
    return notices


def empty_universe_error(lake: Lake, request: PointInTimeRequest) -> NotFoundError:
    """Why a point-in-time universe came out empty: no trades in any as-of date's trailing window."""
    folder = lake.root / lake.trade_tree / f"exchange={request.exchange}" / f"market={request.market}"
    return NotFoundError(f"no trades of {request.exchange} {request.market} in the {request.lookback_days} days "
                         f"before any as-of date from {request.start} to {request.end}", where=str(folder),
                         hint=f"{held_span(folder, lake.symbols(request.exchange, request.market), 'date')}; "
                              "change --start/--end")
