"""Wide (time × symbol) numpy views of a bars panel, the form every engine simulates on.

Panels at the boundaries are pandas frames indexed by ``(ts, symbol)``; the engines pivot them
once into aligned 2-D float arrays. Missing bars (a symbol not listed yet, a gap) are NaN in the
raw arrays; prices are forward-filled for valuation, and an order whose fill price is missing is
not filled until the asset's next bar, so no trade ever happens at an invented price.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from cde_core.bar_panels import check_bar_values, check_unique_bars, utc_panel
from cde_core.errors import DataError

PRICE_COLUMNS = ("open", "high", "low", "close")


@dataclass(frozen=True)
class MarketArrays:
    """Aligned arrays of one bars panel; ``ts`` is int64 nanoseconds (UTC) of each bar's open."""

    ts: np.ndarray
    symbols: list[str]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    quote_volume: np.ndarray
    funding: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.close.shape

    @cached_property
    def index(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(np.asarray(self.ts, dtype=np.int64).view("datetime64[ns]"),
                                name="ts").tz_localize("UTC")


def check_panel(panel: pd.DataFrame, required: tuple[str, ...], *, where: str) -> None:
    """Raise a :class:`DataError` unless ``panel`` is a sorted (ts, symbol) panel with ``required``."""
    if not isinstance(panel.index, pd.MultiIndex) or list(panel.index.names) != ["ts", "symbol"]:
        raise DataError("panel must be indexed by (ts, symbol)", where=where,
                        hint="set_index(['ts', 'symbol']).sort_index()")
    missing = [c for c in required if c not in panel.columns]
    if missing:
        raise DataError(f"panel lacks column(s) {', '.join(missing)}", where=where,
                        hint="load bars with open/high/low/close/quote_volume")
    if not panel.index.is_monotonic_increasing:
        raise DataError("panel index is not sorted", where=where, hint="call sort_index() first")


def checked_bars(panel: pd.DataFrame, *, where: str = "bars panel") -> pd.DataFrame:
    """The panel with UTC timestamps, or a :class:`DataError` naming its first problem: not a
    ``(ts, symbol)`` frame, unsorted, a repeated bar, or a bar whose prices are not finite and > 0 or
    not ordered low ≤ open, close ≤ high (a zero close would otherwise be marked as a −100 % move, a
    NaN one silently skipped). :mod:`cde_core.bar_panels`, shared with the feature calculator."""
    panel = utc_panel(panel)
    check_panel(panel, (*PRICE_COLUMNS, "quote_volume"), where=where)
    check_unique_bars(panel)
    check_bar_values(panel)
    return panel


def wide(series: pd.Series, ts: pd.Index, symbols: list[str]) -> np.ndarray:
    """One long column as a (T, N) float array aligned to ``ts`` × ``symbols`` (NaN where absent)."""
    frame = series.unstack("symbol")
    return frame.reindex(index=ts, columns=symbols).to_numpy(dtype=np.float64, na_value=np.nan)


def market_from_panel(panel: pd.DataFrame, *, funding_column: str = "funding_rate") -> MarketArrays:
    """Pivot a bars panel into :class:`MarketArrays` (funding only when the column is present)."""
    check_panel(panel, (*PRICE_COLUMNS, "quote_volume"), where="bars panel")
    ts = panel.index.get_level_values("ts").unique()
    symbols = sorted(panel.index.get_level_values("symbol").unique())
    arrays = {c: wide(panel[c], ts, symbols) for c in (*PRICE_COLUMNS, "quote_volume")}
    funding = None
    if funding_column in panel.columns:
        funding = np.nan_to_num(wide(panel[funding_column], ts, symbols), nan=0.0)
    ts_ns = pd.DatetimeIndex(ts).as_unit("ns").asi8 if isinstance(ts, pd.DatetimeIndex) else np.asarray(ts)
    return MarketArrays(ts=np.asarray(ts_ns, dtype=np.int64), symbols=list(symbols), funding=funding,
                        **arrays)


def forward_fill(values: np.ndarray) -> np.ndarray:
    """Forward-fill NaNs down each column (leading NaNs stay NaN)."""
    mask = np.isnan(values)
    if not mask.any():
        return values
    idx = np.where(~mask, np.arange(values.shape[0])[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    out = values[idx, np.arange(values.shape[1])[None, :]]
    return out


def typical_spacing_ns(ts_ns: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Median time between one asset's consecutive bars, per asset (NaN with fewer than two bars).

    Threshold bars of a quiet asset are far apart on a panel clock shared with busy ones, so a
    "number of bars without data" must be counted in the asset's own bar spacing, not panel rows."""
    out = np.full(present.shape[1], np.nan)
    for i in range(present.shape[1]):  # per asset, not per row
        own = ts_ns[present[:, i]]
        if len(own) > 1:
            out[i] = float(np.median(np.diff(own)))
    return out


def delisting_spans(market: MarketArrays, after_bars: int | None) -> np.ndarray:
    """Per asset, how long (ns) after its last bar a held position counts as delisted (inf: never)."""
    n = market.shape[1]
    if after_bars is None:
        return np.full(n, np.inf)
    spacing = typical_spacing_ns(market.ts, ~np.isnan(market.close))
    grid = float(np.median(np.diff(market.ts))) if len(market.ts) > 1 else np.inf
    return after_bars * np.where(np.isnan(spacing), grid, spacing)


def carry_over_gaps(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Where an asset has no bar, the value of its last bar (NaN before its first): a missing bar
    carries no new information, so it must not read as a change."""
    rows = np.arange(values.shape[0])[:, None]
    last = np.maximum.accumulate(np.where(present, rows, -1), axis=0)
    carried = values[np.maximum(last, 0), np.arange(values.shape[1])[None, :]]
    return np.where(present, values, np.where(last >= 0, carried, np.nan))
