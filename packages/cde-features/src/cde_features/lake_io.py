"""Bars in, features out: the lake side of the feature stage.

Bars are read from ``<root>/bars/spec=<spec>/exchange=…/market=…/symbol=…/<sub-partitions>/*.parquet``
(any sub-partitioning, read recursively as a hive dataset). Features are written one file per symbol:
``<root>/features/spec=<feature spec>/exchange=…/market=…/symbol=…/part-0.parquet`` holding ``ts``
(``timestamp[us, tz=UTC]``, the bar's ``ts``) and one float64 column per feature, sorted by ts, with
provenance (feature set, factors and params, bars spec, rows, min/max ts) in the file metadata.
The lake may be a folder or a bucket (``s3://bucket/prefix``): reads go through the lake's hive
datasets (pyarrow's S3 client), writes through :meth:`cde_core.lake.Lake.write_partition`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from cde_core.config import get_config
from cde_core.contracts.executor import Executor, Job
from cde_core.errors import DataError, NotFoundError
from cde_core.executors import create_executor
from cde_core.lake import Lake, Provenance
from cde_core.lake_location import LakePath, lake_location
from cde_core.lake_names import check_hive_path, held_span
from cde_core.progress import ProgressCallback
from cde_core.schemas import BARS_SCHEMA, TS_TYPE, bar_clock_column, mark_bar_interval


def utc_start(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time(), tzinfo=UTC)


def bars_symbols(lake: Lake, spec: str, exchange: str, market: str) -> list[str]:
    base = lake.bars_dir(spec, exchange, market, "X").parent
    return sorted(p.name.removeprefix("symbol=") for p in base.glob("symbol=*")) if base.exists() else []


def read_symbol_bars(lake: Lake, spec: str, exchange: str, market: str, symbol: str,
                     end: date | None = None) -> pd.DataFrame:
    """One symbol's bars (all history up to the end of day ``end``), indexed by ``ts`` = the bar clock
    (:func:`cde_core.schemas.bar_clock_column`: the interval start of time bars, so symbols align)."""
    folder = lake.bars_dir(spec, exchange, market, symbol)
    if not folder.exists():
        raise NotFoundError(f"no bars for {symbol}", where=str(folder),
                            hint="build them with `cde aggregate` or check --bars/--exchange/--market")
    dataset = lake.hive_dataset(folder)
    clock = bar_clock_column(dataset.schema.names)
    filt = None
    if end is not None:
        filt = ds.field(clock) < pa.scalar(utc_start(end + timedelta(days=1)), type=TS_TYPE)
    names = [n for n in BARS_SCHEMA.names if n in dataset.schema.names]
    if clock != "ts":
        names = [clock, *(n for n in names if n != "ts")]
    table = dataset.to_table(columns=names, filter=filt)
    frame = table.to_pandas().rename(columns={clock: "ts"}).sort_values("ts", kind="stable").set_index("ts")
    frame.attrs["time_bars"] = clock != "ts"
    return frame


def read_bars_panel(lake: Lake, spec: str, exchange: str, market: str, symbols: Sequence[str] | None = None,
                    end: date | None = None) -> pd.DataFrame:
    """Bars of many symbols as a panel indexed by ``(ts, symbol)``, sorted by ts then symbol."""
    check_hive_path(lake.root / "bars", ("spec", spec), ("exchange", exchange), ("market", market),
                    ("symbol", list(symbols or [])))
    names = list(symbols) if symbols else bars_symbols(lake, spec, exchange, market)
    if not names:
        raise NotFoundError(f"no bars under spec={spec}/exchange={exchange}/market={market}",
                            where=str(lake.root / "bars"), hint="build bars first (`cde aggregate`)")
    frames = [read_symbol_bars(lake, spec, exchange, market, s, end).assign(symbol=s) for s in names]
    panel = pd.concat(frames).set_index("symbol", append=True).sort_index()
    if any(frame.attrs.get("time_bars") for frame in frames):
        mark_bar_interval(panel)  # time bars: the calculator lays them out on their grid
    return panel


def _write_symbol(lake_root: str, spec: str, exchange: str, market: str, symbol: str, ts: np.ndarray,
                  columns: list[str], values: np.ndarray, provenance: dict[str, Any]) -> str:
    lake = Lake(lake_root)
    arrays = [pa.array(ts, type=TS_TYPE)] + [pa.array(values[i]) for i in range(len(columns))]
    table = pa.Table.from_arrays(arrays, names=["ts", *columns])
    info = dict(provenance)
    if len(ts):
        info["min_ts"] = str(table.column("ts")[0].as_py())
        info["max_ts"] = str(table.column("ts")[-1].as_py())
    prov = Provenance(rows=table.num_rows, **info)
    path = lake.write_partition(lake.features_dir(spec, exchange, market, symbol), table, prov)
    return str(path)


def refuse_to_shrink(lake: Lake, spec: str, exchange: str, market: str, symbols: Sequence[str],
                     start: date | None, end: date | None) -> None:
    """A run writes each symbol's whole features file: one whose range starts later or ends earlier than
    the rows the file already holds would replace them with fewer and silently drop the rest (the
    usual "compute the new week" re-run losing the year before). Raise naming the rows held instead."""
    first = None if start is None else datetime.combine(start, time())
    after = None if end is None else datetime.combine(end + timedelta(days=1), time())
    if first is None and after is None:
        return
    for symbol in symbols:
        provenance = Lake.read_provenance(lake.features_dir(spec, exchange, market, symbol))
        if provenance is None or provenance.min_ts is None or provenance.max_ts is None:
            continue
        low = datetime.fromisoformat(provenance.min_ts).replace(tzinfo=None)
        high = datetime.fromisoformat(provenance.max_ts).replace(tzinfo=None)
        if (first is not None and low < first) or (after is not None and high >= after):
            asked = f"{start or 'the first bar'} … {end or 'the last bar'}"
            raise DataError(
                f"features of {symbol} in spec {spec} already hold {low:%Y-%m-%d %H:%M} … {high:%Y-%m-%d %H:%M} "
                f"UTC; this run over {asked} would replace them with fewer rows and drop the rest",
                where=f"features/spec={spec}/exchange={exchange}/market={market}/symbol={symbol}",
                hint=f"compute {min(low.date(), start or low.date())} … {max(high.date(), end or high.date())} "
                     "to extend them, write the shorter range to another spec (--out-spec), or delete the "
                     "spec first")


def write_features(features: pd.DataFrame, lake: Lake, *, spec: str, exchange: str, market: str,
                   source: str, extra: dict[str, Any] | None = None,
                   progress: ProgressCallback | None = None, executor: Executor | None = None) -> list[LakePath]:
    """Write a feature panel (index ``(ts, symbol)``) as one atomic partition per symbol, as jobs on
    ``executor`` (else on one created from the config for this call and closed afterwards)."""
    sym_codes, symbols = pd.factorize(features.index.get_level_values(1), sort=True)
    ts_all = features.index.get_level_values(0).tz_convert("UTC").tz_localize(None).values
    order = np.argsort(sym_codes, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(sym_codes, minlength=len(symbols)))])
    matrix = features.to_numpy(dtype=np.float64).T
    columns = [str(c) for c in features.columns]
    provenance = {"source": source, "created_by": "cde-features", "extra": dict(extra or {})}
    jobs = []
    for k, symbol in enumerate(symbols):
        pos = order[bounds[k]:bounds[k + 1]]
        jobs.append(Job(f"write {symbol}", _write_symbol,
                        (str(lake.root), spec, exchange, market, str(symbol), ts_all[pos], columns,
                         np.ascontiguousarray(matrix[:, pos]), provenance)))
    if executor is not None:
        return [lake_location(p) for p in executor.run(jobs, progress=progress)]
    owned = create_executor(get_config().executor)
    try:
        return [lake_location(p) for p in owned.run(jobs, progress=progress)]
    finally:
        owned.close()


def read_features(lake: Lake, spec: str, exchange: str, market: str,
                  columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A features lake spec as a panel indexed by ``(ts, symbol)`` (symbol from the hive partition)."""
    base = lake.features_dir(spec, exchange, market, "X").parent  # every name through safe_value
    check_hive_path(lake.root / "features", ("spec", spec), ("exchange", exchange), ("market", market))
    dataset = lake.hive_dataset(base)
    wanted = None if columns is None else ["ts", "symbol", *[c for c in columns if c not in ("ts", "symbol")]]
    frame = dataset.to_table(columns=wanted).to_pandas()
    frame["symbol"] = frame["symbol"].astype(str)
    return frame.set_index(["ts", "symbol"]).sort_index()


def empty_window(lake: Lake, spec: str, exchange: str, market: str, symbols: Sequence[str],
                 start: date | None, end: date | None) -> DataError:
    """The error for a date range that holds none of the bars, with the months the lake holds."""
    folder = lake.bars_dir(spec, exchange, market, "X").parent
    span = f"{start or 'the start'} to {end or 'the end'}"
    return DataError(f"no bars from {span}", where=f"bars/spec={spec}",
                     hint=f"{held_span(folder, symbols, 'month')}; change --start/--end")
