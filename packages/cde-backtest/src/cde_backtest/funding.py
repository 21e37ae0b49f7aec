"""Perpetual funding from the lake's ``funding`` tree as the panel's ``funding_rate`` column.

Bars carry no funding, but `cde download --kind fundingRate` writes each um/cm perpetual's settlements
(``calc_time``, ``funding_rate``). Each settlement is charged on the first bar whose period contains its
``calc_time``: a bar's period runs from its clock to the panel's next clock (the last bar's for one
typical step). When the symbol has no bar in that period, its next bar takes it, never an earlier one,
so a backtest never pays funding before it is settled. Rates landing on the same bar add up.

A perpetual whose settlements the tree lacks for part of its bars (no tree, a symbol never downloaded, a
missing month) would pay no funding there, which reads as a cost-free carry: :func:`funding_notices` says
so in the run's notices, naming the symbols and stretches.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from cde_core.lake import Lake

#: markets whose instruments are perpetuals with funding (Binance USDⓈ-M and COIN-M)
FUNDED_MARKETS = frozenset({"um", "cm"})
HOUR_NS = 3_600_000_000_000
#: how late a settlement may be stamped after its due time before its absence counts as a gap
#: (the same grace as the perp features' ``funding_last``)
SETTLEMENT_GRACE_NS = 60_000_000_000
#: interval assumed for a symbol the tree has no settlement of (Binance's usual one)
DEFAULT_INTERVAL_NS = 8 * HOUR_NS
_LISTED = 10


def read_funding(lake: Lake, exchange: str, market: str, symbols: list[str]) -> pd.DataFrame | None:
    """Settlements (``symbol``, ``calc_time`` in ns, ``interval`` in ns, ``funding_rate``) of ``symbols``, or None
    when the lake
    holds none for this exchange and market."""
    base = lake.hive_dir("funding", ("exchange", exchange), ("market", market))
    if market not in FUNDED_MARKETS or not base.exists():
        return None
    dataset = lake.hive_dataset(base)
    table = dataset.to_table(columns=["symbol", "calc_time", "funding_interval_hours", "funding_rate"],
                             filter=ds.field("symbol").isin(symbols))
    if table.num_rows == 0:
        return None
    return pd.DataFrame({"symbol": np.asarray(table.column("symbol").cast(pa.string())),
                         "calc_time": np.asarray(table.column("calc_time").cast(pa.int64())) * 1_000,
                         "interval": np.asarray(table.column("funding_interval_hours"), dtype=np.int64) * HOUR_NS,
                         "funding_rate": np.asarray(table.column("funding_rate"))})


def funding_column(index: pd.MultiIndex, rates: pd.DataFrame) -> pd.Series:
    """Per panel row (``index`` sorted by ts, symbol), the sum of the funding rates charged on that bar."""
    ts = pd.DatetimeIndex(index.get_level_values("ts")).as_unit("ns").asi8
    symbols = index.get_level_values("symbol").to_numpy()
    clock = np.unique(ts)
    step = int(np.median(np.diff(clock))) if len(clock) > 1 else 0
    period_end = np.append(clock[1:], clock[-1] + step)
    out = np.zeros(len(index))
    for symbol, group in rates.groupby("symbol"):
        rows = np.flatnonzero(symbols == symbol)
        if not len(rows):
            continue
        calc = group["calc_time"].to_numpy()
        k = np.searchsorted(clock, calc, side="right") - 1
        inside = k >= 0
        inside[inside] = calc[inside] < period_end[k[inside]]
        first = np.searchsorted(ts[rows], clock[k[inside]], side="left")  # the symbol's bar of that period or next
        valid = first < len(rows)
        np.add.at(out, rows[first[valid]], group["funding_rate"].to_numpy()[inside][valid])
    return pd.Series(out, index=index, name="funding_rate")


def _stamp(ns: int) -> str:
    return f"{pd.Timestamp(ns, tz='UTC'):%Y-%m-%d %H:%M}"


def _symbol_gaps(start: int, end: int, calc: np.ndarray, interval: np.ndarray) -> list[tuple[int, int]]:
    """Stretches of [start, end) (a symbol's bars) in which a settlement was due but the tree has none:
    the first one later than an interval after ``start``, two consecutive ones further apart than the
    later one's interval, or the last one more than its interval before ``end`` (each plus the grace)."""
    inside = (calc >= start) & (calc < end)
    calc, interval = calc[inside], interval[inside]
    if not len(calc):
        return [(start, end)] if end - start > DEFAULT_INTERVAL_NS + SETTLEMENT_GRACE_NS else []
    gaps = []
    if calc[0] - start > interval[0] + SETTLEMENT_GRACE_NS:
        gaps.append((start, int(calc[0])))
    apart = np.flatnonzero(np.diff(calc) > interval[1:] + SETTLEMENT_GRACE_NS)
    gaps.extend((int(calc[i]), int(calc[i + 1])) for i in apart)
    if end - calc[-1] > interval[-1] + SETTLEMENT_GRACE_NS:
        gaps.append((int(calc[-1]), end))
    return gaps


def funding_notices(index: pd.MultiIndex, rates: pd.DataFrame | None, exchange: str, market: str) -> list[str]:
    """Run notices for the perpetuals of ``index`` (sorted by ts, symbol) whose bars the funding tree does
    not cover: no settlement at all, or stretches where one was due and is missing (those bars pay none)."""
    if market not in FUNDED_MARKETS:
        return []
    ts = pd.DatetimeIndex(index.get_level_values("ts")).as_unit("ns").asi8
    symbols = index.get_level_values("symbol").astype(str).to_numpy()
    clock = np.unique(ts)
    step = int(np.median(np.diff(clock))) if len(clock) > 1 else 0
    names = sorted(set(symbols))
    fetch = (f"`cde download --kind fundingRate --exchange {exchange} --market {market} --symbols SYMBOLS "
             f"--start {_stamp(int(clock[0]))[:10]} --end {_stamp(int(clock[-1]))[:10]}`")
    by_symbol = {} if rates is None else {s: g.sort_values("calc_time", kind="stable")
                                          for s, g in rates.groupby("symbol")}
    none = np.empty(0, dtype=np.int64)
    gaps: list[str] = []
    short: list[str] = []
    for symbol in names:
        rows = ts[symbols == symbol]
        start, end = int(rows.min()), int(rows.max()) + step
        group = by_symbol.get(symbol)
        found = _symbol_gaps(start, end, none, none) if group is None else \
            _symbol_gaps(start, end, group["calc_time"].to_numpy(), group["interval"].to_numpy())
        if found:
            short.append(symbol)
            gaps.extend(f"{symbol} {_stamp(a)} … {_stamp(b)}" for a, b in found)
    if rates is None and short:
        return [f"the {exchange} {market} bars carry no funding_rate and the lake holds no funding settlements "
                f"for them: the run pays no funding; download them ({fetch.replace('SYMBOLS', ','.join(short))})"]
    if not gaps:
        return []
    more = f" and {len(gaps) - _LISTED} more" if len(gaps) > _LISTED else ""
    return [f"the lake's funding tree lacks settlements of {len(short)} of {len(names)} symbols for part of the "
            f"run, so those bars pay no funding (UTC): {'; '.join(gaps[:_LISTED])}{more}; download them "
            f"({fetch.replace('SYMBOLS', ','.join(short))})"]
