"""Lake inputs of the perpetual factors (:mod:`cde_features.perpetual`): columns that are not in the
bars but in other trees of the lake, added to the bars panel before computing.

* ``funding_last`` — per bar, the latest rate of the lake's funding tree
  (``funding/exchange=…/market=um|cm/symbol=…``, written by ``cde download --kind fundingRate``) whose
  ``calc_time`` is at or before the bar's close (``ts_close``; the bar's clock when a panel has no
  ``ts_close``): a rate is known at its settlement, never earlier. NaN before the first settlement and
  where the next settlement is overdue (more than ``funding_interval_hours`` plus a minute after the
  last one: the tree has a gap, e.g. the running month Binance publishes no file for), so a gap never
  repeats a stale rate.
* ``spot_close`` — the close of the spot bar (same bars spec and exchange, ``market=spot``) with the
  same clock as the perpetual's bar: um ``BTCUSDT`` ↔ spot ``BTCUSDT``; cm ``BTCUSD_PERP`` ↔ spot
  ``BTCUSDT`` (the coin-margined contract is quoted in USD, the spot pair in USDT). NaN where the spot
  symbol has no bar at that clock.

Missing data is an error naming what is missing and how to get it, never a column of NaN.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from cde_core.errors import DataError, NotFoundError
from cde_core.lake import Lake
from cde_core.lake_location import arrow_target

#: markets whose symbols are perpetuals with funding and a spot underlying (Binance USDⓈ-M and COIN-M)
PERPETUAL_MARKETS = ("um", "cm")

HOUR_NS = 3_600_000_000_000
#: how late a settlement may be stamped after its due time before the previous rate counts as unknown
SETTLEMENT_GRACE_NS = 60_000_000_000

#: lake-provided input column → what it is and where it comes from
LAKE_INPUTS = {
    "funding_last": "the latest funding rate settled at or before the bar's close, from the lake's funding "
                    "tree (`cde download --kind fundingRate --market um|cm`)",
    "spot_close": "the close of the underlying's spot bar with the same clock (spot bars of the same spec)",
}


def lake_inputs_of(factors: Iterable[Any]) -> dict[str, list[str]]:
    """Lake input column → names of the resolved factors that need it."""
    needed: dict[str, list[str]] = {}
    for r in factors:
        for column in getattr(r.factor, "inputs", ()):
            if column in LAKE_INPUTS:
                needed.setdefault(column, []).append(r.name)
    return needed


def missing_inputs_hint(missing: Sequence[str]) -> str | None:
    """A hint for a panel that lacks lake inputs (the in-memory route), or None."""
    lake_made = [c for c in missing if c in LAKE_INPUTS]
    if not lake_made:
        return None
    what = "; ".join(f"{c} = {LAKE_INPUTS[c]}" for c in lake_made)
    return (f"{what}. `cde features compute --market um|cm --set perp` adds them from the lake; in Python use "
            "cde_features.perp_inputs.attach_lake_inputs or add the column(s) yourself")


def spot_symbol(symbol: str, market: str) -> str:
    """The spot pair of a perpetual (see the module docstring)."""
    base = symbol.split("_", 1)[0]
    if market == "cm" and base.endswith("USD"):
        return base + "T"
    return base


def attach_lake_inputs(panel: pd.DataFrame, lake: Lake, factors: Iterable[Any], *, bars: str, exchange: str,
                       market: str) -> pd.DataFrame:
    """``panel`` with the lake inputs the resolved ``factors`` need (unchanged when they need none)."""
    needed = lake_inputs_of(factors)
    if not needed:
        return panel
    users = sorted({n for names in needed.values() for n in names})
    if market not in PERPETUAL_MARKETS:
        raise DataError(f"factor(s) {', '.join(users)} need perpetual-futures data, but market={market} "
                        "has no funding or spot basis", where=f"bars/spec={bars}/exchange={exchange}",
                        hint="compute them on um/cm perpetual bars (--market um) or leave them out "
                             "(--set default)")
    symbols = sorted({str(s) for s in panel.index.get_level_values(1)})
    columns: dict[str, np.ndarray] = {}
    if "funding_last" in needed and "funding_last" not in panel.columns:
        columns["funding_last"] = _funding_column(panel, lake, exchange, market, symbols)
    if "spot_close" in needed and "spot_close" not in panel.columns:
        columns["spot_close"] = _spot_column(panel, lake, bars, exchange, market, symbols)
    return panel.assign(**columns) if columns else panel


def _bar_times_ns(panel: pd.DataFrame) -> np.ndarray:
    """When each bar's values are known: its ``ts_close`` (else its clock), in ns since the epoch."""
    if "ts_close" in panel.columns:
        times = pd.DatetimeIndex(pd.to_datetime(panel["ts_close"], utc=True))
    else:
        times = pd.DatetimeIndex(panel.index.get_level_values(0))
    return times.as_unit("ns").asi8


def _funding_column(panel: pd.DataFrame, lake: Lake, exchange: str, market: str,
                    symbols: list[str]) -> np.ndarray:
    base = lake.hive_dir("funding", ("exchange", exchange), ("market", market))
    fetch = f"cde download --kind fundingRate --exchange {exchange} --market {market} --symbols {','.join(symbols)}"
    if not base.exists():
        raise NotFoundError(f"the lake has no funding tree for exchange={exchange} market={market}",
                            where=str(base), hint=f"download it: {fetch}")
    where, filesystem = arrow_target(base)  # a folder or a bucket prefix
    table = ds.dataset(where, format="parquet", partitioning="hive", filesystem=filesystem).to_table(
        columns=["symbol", "calc_time", "funding_interval_hours", "funding_rate"],
        filter=ds.field("symbol").isin(symbols))
    have = pd.DataFrame({"symbol": np.asarray(table.column("symbol").cast(pa.string())),
                         "calc_time": np.asarray(table.column("calc_time").cast(pa.int64())) * 1_000,
                         "interval": np.asarray(table.column("funding_interval_hours"), dtype=np.int64) * HOUR_NS,
                         "rate": np.asarray(table.column("funding_rate"), dtype=np.float64)})
    listed = set(have["symbol"])
    missing = [s for s in symbols if s not in listed]
    if missing:
        raise NotFoundError(f"no funding rates for {', '.join(missing)} in the lake", where=str(base),
                            hint=f"download them: {fetch}")
    times = _bar_times_ns(panel)
    row_symbols = panel.index.get_level_values(1).astype(str).to_numpy()
    out = np.full(len(panel), np.nan)
    for symbol, group in have.sort_values("calc_time", kind="stable").groupby("symbol", sort=False):
        rows = np.flatnonzero(row_symbols == symbol)
        calc = group["calc_time"].to_numpy()
        known = np.searchsorted(calc, times[rows], side="right") - 1
        last = np.maximum(known, 0)
        # a rate stands for its interval; past the next settlement's due time (plus a grace for the
        # exchange's late stamps) a missing settlement makes the rate unknown, not stale
        due = calc[last] + group["interval"].to_numpy()[last] + SETTLEMENT_GRACE_NS
        out[rows] = np.where((known >= 0) & (times[rows] < due), group["rate"].to_numpy()[last], np.nan)
    return out


def _spot_column(panel: pd.DataFrame, lake: Lake, bars: str, exchange: str, market: str,
                 symbols: list[str]) -> np.ndarray:
    from cde_features.lake_io import read_symbol_bars

    pairs = {s: spot_symbol(s, market) for s in symbols}
    absent = [f"{spot} (for {s})" for s, spot in pairs.items()
              if not lake.bars_dir(bars, exchange, "spot", spot).exists()]
    if absent:
        raise NotFoundError(f"no spot bars for {', '.join(absent)} under bars/spec={bars}/exchange={exchange}"
                            "/market=spot, so the perpetual-spot basis cannot be computed",
                            where=str(lake.bars_dir(bars, exchange, "spot", "X").parent),
                            hint=f"download spot trades and build bars with the same spec ({bars}) "
                                 "(`cde download --market spot` then `cde aggregate --market spot`)")
    ts = panel.index.get_level_values(0)
    row_symbols = panel.index.get_level_values(1).astype(str).to_numpy()
    out = np.full(len(panel), np.nan)
    for symbol, spot in pairs.items():
        rows = np.flatnonzero(row_symbols == symbol)
        spot_close = read_symbol_bars(lake, bars, exchange, "spot", spot)["close"]
        spot_close = spot_close[~spot_close.index.duplicated(keep="last")]
        values = spot_close.reindex(ts[rows]).to_numpy(dtype=np.float64)
        if len(rows) and np.isnan(values).all():
            raise DataError(f"the spot bars of {spot} share no bar clock with {symbol}'s {market} bars, so the "
                            "basis cannot be computed", where=f"bars/spec={bars}/exchange={exchange}",
                            hint="the basis needs time bars, whose clocks align; information-driven bars "
                                 "(tick, volume, dollar) have none")
        out[rows] = values
    return out
