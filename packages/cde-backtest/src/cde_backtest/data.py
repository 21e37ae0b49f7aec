"""Read bars and features from the lake into one (ts, symbol) panel (pyarrow datasets, hive)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from cde_backtest.coverage import coverage_notices
from cde_backtest.funding import funding_column, funding_notices, read_funding
from cde_core.errors import DataError, NotFoundError
from cde_core.lake import Lake, safe_value
from cde_core.lake_location import LakePath
from cde_core.lake_names import POINT_ELSEWHERE, missing_name, partition_values
from cde_core.schemas import bar_clock_column
from cde_core.suggest import did_you_mean

BAR_COLUMNS = ("open", "high", "low", "close", "volume", "quote_volume")
#: key of ``panel.attrs`` holding the coverage notices of a loaded panel
COVERAGE_ATTR = "coverage_notices"
PARTITION_KEYS = ("spec", "exchange", "market", "symbol", "date", "month", "year")


def _filter(exchange: str, market: str, symbols: list[str] | None, start: datetime | None,
            end: datetime | None, clock: str, ts_type: pa.DataType) -> ds.Expression:
    expr = (ds.field("exchange") == exchange) & (ds.field("market") == market)
    if symbols:
        expr &= ds.field("symbol").isin(symbols)
    if start is not None:
        expr &= ds.field(clock) >= pa.scalar(_utc(start), type=ts_type)
    if end is not None:
        expr &= ds.field(clock) < pa.scalar(_utc(end), type=ts_type)
    return expr


def _utc(moment: datetime) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp


def _read(lake: Lake, kind: str, spec: str, what: str, exchange: str, market: str, symbols: list[str] | None,
          start: datetime | None, end: datetime | None, columns: list[str] | None) -> pd.DataFrame:
    base = lake.root / kind / f"spec={safe_value(spec, what=what)}"
    if not base.exists():
        known = partition_values(lake.root / kind, "spec")
        hint = did_you_mean(spec, known, what=f"{what}s") if known else f"there are none in {lake.root / kind}"
        raise NotFoundError(f"no {what} '{spec}' in the lake", where=str(base),
                            hint=f"{hint} (build it first, or {POINT_ELSEWHERE})")
    dataset = lake.hive_dataset(base)
    names = dataset.schema.names
    if "ts" not in names or "symbol" not in names:
        raise DataError(f"{what} dataset lacks ts/symbol", where=str(base))
    # time bars are labelled by their interval start so that symbols share one clock
    clock = bar_clock_column(names) if kind == "bars" else "ts"
    skip = {"ts", "symbol", clock}
    wanted = [c for c in names if c not in PARTITION_KEYS and c not in skip] if columns is None else \
        [c for c in columns if c in names and c not in skip]
    table = dataset.to_table(columns=[clock, "symbol", *wanted],
                             filter=_filter(exchange, market, symbols, start, end, clock,
                                            dataset.schema.field(clock).type))
    frame = table.to_pandas().rename(columns={clock: "ts"})
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).dt.as_unit("ns")
    frame["symbol"] = frame["symbol"].astype(str)
    frame = frame.drop_duplicates(["ts", "symbol"], keep="last")
    return frame.set_index(["ts", "symbol"]).sort_index()


def load_panel(lake: Lake, *, bars: str, features: str | None, exchange: str, market: str,
               symbols: list[str] | None = None, start: datetime | None = None,
               end: datetime | None = None) -> pd.DataFrame:
    """Bars (+ features, left-joined on (ts, symbol)) as one sorted panel; ``ts`` is the bar clock
    (:func:`cde_core.schemas.bar_clock_column`). For um/cm perpetuals whose bars carry no ``funding_rate``,
    the column is filled from the lake's funding tree when it holds their settlements
    (:mod:`cde_backtest.funding`). ``panel.attrs[COVERAGE_ATTR]`` lists what of the request the lake
    lacks (:func:`cde_backtest.coverage.coverage_notices`; perpetuals' missing settlements,
    :func:`cde_backtest.funding.funding_notices`)."""
    panel = _read(lake, "bars", bars, "bars spec", exchange, market, symbols, start, end,
                  [*BAR_COLUMNS, "funding_rate"])
    check_found(panel, lake.root / "bars" / f"spec={bars}", exchange=exchange, market=market, symbols=symbols,
                start=start, end=end)
    missing = [c for c in BAR_COLUMNS if c not in panel.columns]
    if missing:
        raise DataError(f"bars lack column(s) {', '.join(missing)}", where=f"bars/spec={bars}")
    funding = []
    if "funding_rate" not in panel.columns:  # perpetuals: settlements from the funding tree, when downloaded
        rates = read_funding(lake, exchange, market, sorted(panel.index.get_level_values("symbol").unique()))
        if rates is not None:
            panel = panel.assign(funding_rate=funding_column(panel.index, rates))
        funding = funding_notices(panel.index, rates, exchange, market)
    # cast before the join: a per-column astype of the joined frame would split its ~170 feature columns
    # into one block each, and every later column insert would raise pandas' PerformanceWarning
    panel = panel.astype({c: np.float64 for c in BAR_COLUMNS})
    feats = None
    if features:
        feats = _read(lake, "features", features, "feature set", exchange, market, symbols, start, end, None)
        feats = feats.drop(columns=[c for c in feats.columns if c in panel.columns])
    notices = coverage_notices(panel, feats, features, None if start is None else _utc(start),
                               None if end is None else _utc(end))
    if feats is not None:
        panel = panel.join(feats, how="left")
    panel.attrs[COVERAGE_ATTR] = notices + funding
    return panel


def check_found(panel: pd.DataFrame, base: LakePath, *, exchange: str, market: str, symbols: list[str] | None,
                start: datetime | None, end: datetime | None) -> None:
    """Raise a :class:`NotFoundError` naming what the request asked for and the lake lacks (an
    exchange, market or symbol, with the nearest names; or any bar of a symbol in the date range,
    with the months the lake holds), instead of running on less data than asked for."""
    folder = base / f"exchange={exchange}"
    if not folder.is_dir():
        raise missing_name("exchange", exchange, partition_values(base, "exchange"), str(base))
    if not (folder / f"market={market}").is_dir():
        raise missing_name("market", market, partition_values(folder, "market"), str(folder))
    folder = folder / f"market={market}"
    for symbol in symbols or []:
        if not (folder / f"symbol={symbol}").is_dir():
            raise missing_name("symbol", symbol, partition_values(folder, "symbol"), str(folder))
    loaded = set(panel.index.get_level_values("symbol").unique())
    absent = [s for s in (symbols or []) if s not in loaded] or ([] if loaded else ["any symbol"])
    if absent:
        span = f"{start or 'the start'} to {end or 'the end'}"
        months = sorted({m for s in (symbols or partition_values(folder, "symbol"))
                         for m in partition_values(folder / f"symbol={s}", "month")})
        held = f"the lake holds months {months[0]} … {months[-1]}" if months else "the lake holds no months"
        raise NotFoundError(f"no bars of {', '.join(absent)} from {span}", where=str(folder),
                            hint=f"{held}; change --start/--end (start inclusive, end exclusive)")


def universe_column(panel: pd.DataFrame, universe: dict[str, list[str]] | pd.DataFrame) -> pd.Series:
    """Point-in-time membership per (ts, symbol): a bar belongs to the universe of the latest date ≤ its
    day. ``universe`` is {date: [symbols]} or a frame with ``date`` (or ``ts``) and ``symbol`` rows."""
    if isinstance(universe, pd.DataFrame):
        key = "date" if "date" in universe.columns else "ts"
        pairs = pd.DataFrame({"date": pd.to_datetime(universe[key], utc=True).dt.floor("D"),
                              "symbol": universe["symbol"].astype(str)})
    else:
        pairs = pd.DataFrame([(pd.Timestamp(d, tz="UTC"), s) for d, syms in universe.items() for s in syms],
                             columns=["date", "symbol"])
    pairs["member"] = True
    table = pairs.pivot_table(index="date", columns="symbol", values="member", aggfunc="any").sort_index()
    table = table.astype("boolean").fillna(False)
    ts = panel.index.get_level_values("ts")
    days = ts.floor("D")
    table = table.reindex(table.index.union(days.unique())).ffill().fillna(False)
    symbols = panel.index.get_level_values("symbol")
    values = np.zeros(len(panel), dtype=bool)
    for symbol in table.columns:
        hit = symbols == symbol
        values[hit] = table[symbol].reindex(days[hit]).to_numpy(dtype=bool)
    return pd.Series(values, index=panel.index, name="in_universe")
