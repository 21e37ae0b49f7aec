"""Perpetual funding from the lake's ``funding`` tree as the panel's ``funding_rate`` column.

Bars carry no funding, but `cde download --kind fundingRate` writes each um/cm perpetual's settlements
(``calc_time``, ``funding_rate``). Each settlement is charged on the first bar whose period contains its
``calc_time``: a bar's period runs from its clock to the panel's next clock (the last bar's for one
typical step). When the symbol has no bar in that period, its next bar takes it, never an earlier one,
so a backtest never pays funding before it is settled. Rates landing on the same bar add up.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from cde_core.lake import Lake

#: markets whose instruments are perpetuals with funding (Binance USDⓈ-M and COIN-M)
FUNDED_MARKETS = frozenset({"um", "cm"})


def read_funding(lake: Lake, exchange: str, market: str, symbols: list[str]) -> pd.DataFrame | None:
    """Settlements (``symbol``, ``calc_time`` in ns, ``funding_rate``) of ``symbols``, or None when the lake
    holds none for this exchange and market."""
    base = lake.hive_dir("funding", ("exchange", exchange), ("market", market))
    if market not in FUNDED_MARKETS or not base.exists():
        return None
    dataset = lake.hive_dataset(base)
    table = dataset.to_table(columns=["symbol", "calc_time", "funding_rate"],
                             filter=ds.field("symbol").isin(symbols))
    if table.num_rows == 0:
        return None
    return pd.DataFrame({"symbol": np.asarray(table.column("symbol").cast(pa.string())),
                         "calc_time": np.asarray(table.column("calc_time").cast(pa.int64())) * 1_000,
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
