"""``cde import bars``: a user's OHLCV bars into the bars lake, for users who start from candles.

They land where ``cde aggregate`` writes time bars, under a spec id that says they were imported
(``imported-<interval>`` or ``imported-<name>``), one month partition per UTC month with provenance, so
``cde features compute --bars imported-1h`` and the backtest read them like built bars. The bars schema
(:data:`cde_core.schemas.BARS_SCHEMA`) plus ``period_start`` (the bar's interval start: the panel clock
that lines symbols up) is written; columns a candle file lacks are derived and the provenance and the
report say how (``extra.imported.derived``):

==================  =========================================================================
``quote_volume``    volume × vwap, or volume × typical price (high + low + close) / 3
``vwap``            quote_volume / volume, or the typical price (the close for an empty bar)
``buy_volume``      half the volume: order-flow factors then carry no information, as they should
``buy_quote_volume`` half the quote volume
``n_trades``        0 (unknown)
``ts_close``        the interval's last microsecond
trade ids           0 (no trades behind these bars)
==================  =========================================================================

Every bar is checked (prices positive and finite, low ≤ open, close ≤ high, amounts finite and ≥ 0, bars
strictly in time order and on the interval's grid); an error names the file and line, and nothing is
written unless every file is good.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field

from cde_core.errors import ConfigError, DataError
from cde_core.lake import Lake, Provenance, safe_value
from cde_core.object_store import ObjectPath
from cde_core.progress import ProgressCallback
from cde_core.schemas import BARS_SCHEMA, PERIOD_START, TS_TYPE
from cde_exchanges.formats.csv_checks import ValueRule
from cde_exchanges.importing.import_columns import ValueKind
from cde_exchanges.importing.import_sources import FIX_HINT, SourceBatch, read_source
from cde_exchanges.importing.import_timestamps import TimeOptions, check_timezone, to_utc_micros
from cde_exchanges.importing.new_names import check_new_names
from cde_exchanges.importing.trade_import import file_sha256

BAR_ROLES: dict[str, ValueKind] = {
    "ts": "time", "open": "float", "high": "float", "low": "float", "close": "float", "volume": "float",
    "quote_volume": "float", "vwap": "float", "n_trades": "int", "buy_volume": "float", "buy_quote_volume": "float"}
BAR_REQUIRED = {"ts", "open", "high", "low", "close", "volume"}
BAR_RULES: dict[str, ValueRule] = {
    **dict.fromkeys(("open", "high", "low", "close", "vwap"), "positive"),
    **dict.fromkeys(("volume", "quote_volume", "buy_volume", "buy_quote_volume", "n_trades"), "non_negative")}
_UNITS_US = {"s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000, "d": 86_400_000_000}
IMPORTED_PREFIX = "imported-"


class BarImportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: list[Path] = Field(min_length=1, description="CSV, CSV.gz or Parquet files of bars, in time order")
    exchange: str
    market: str
    symbol: str
    interval: str | None = Field(None, description="bar interval (1m, 1h, 1d …); default: the smallest step")
    name: str | None = Field(None, description="spec id suffix; the spec id is imported-<name or interval>")
    columns: dict[str, str] = Field(default_factory=dict)
    time: TimeOptions = Field(default_factory=TimeOptions)
    force: bool = False
    new_name: bool = Field(False, description="the exchange, market or symbol is new on purpose, although "
                                              "close to one under this bar spec (otherwise refused as a typo)")


class BarImportReport(BaseModel):
    spec: str
    exchange: str
    market: str
    symbol: str
    bars: int
    interval: str
    first: datetime
    last: datetime
    months: list[str]
    derived: dict[str, str]


def interval_us(text: str) -> int:
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not match or int(match.group(1)) == 0:
        raise ConfigError(f"interval '{text}' is not a number and a unit", where="--interval",
                          hint="e.g. 1m, 15m, 1h, 4h, 1d")
    return int(match.group(1)) * _UNITS_US[match.group(2)]


def interval_label(us: int) -> str:
    for unit in ("d", "h", "m", "s"):
        if us % _UNITS_US[unit] == 0:
            return f"{us // _UNITS_US[unit]}{unit}"
    raise DataError(f"bars are {us} µs apart, not a whole number of seconds", hint="give --interval")


def _check_bars(batch: SourceBatch, ts: np.ndarray, prev: int | None) -> None:
    cols = {k: v.to_numpy(zero_copy_only=False) for k, v in batch.columns.items() if k != "ts"}
    o, h, lo, c = cols["open"], cols["high"], cols["low"], cols["close"]
    bad = np.flatnonzero((lo > np.minimum(o, c)) | (h < np.maximum(o, c)))
    if len(bad):
        row = int(bad[0])
        raise DataError(f"{batch.locate(row)}: open {o[row]}, high {h[row]}, low {lo[row]}, close {c[row]}: "
                        f"low must be ≤ open, close ≤ high", where=batch.where, hint=FIX_HINT)
    steps = np.diff(ts, prepend=ts[0] - 1 if prev is None else prev)
    back = np.flatnonzero(steps <= 0)
    if len(back):
        row = int(back[0])
        raise DataError(f"{batch.locate(row)}: bar at {np.datetime64(int(ts[row]), 'us')}Z does not come after "
                        f"the one before", where=batch.where,
                        hint="bars must be in time order, one per interval (sort them; drop duplicates)")


def _derive(found: set[str], cols: dict[str, np.ndarray], start: np.ndarray,
            step: int) -> tuple[pa.Table, dict[str, str]]:
    """The bars table (schema order, then ``period_start``) and how each missing column was derived."""
    derived: dict[str, str] = {}
    o, h, lo, c, v = cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"]
    typical = (h + lo + c) / 3
    if "quote_volume" in found:
        quote = cols["quote_volume"]
    elif "vwap" in found:
        quote, derived["quote_volume"] = v * cols["vwap"], "volume × vwap"
    else:
        quote, derived["quote_volume"] = v * typical, "volume × typical price (high + low + close) / 3"
    if "vwap" in found:
        vwap = cols["vwap"]
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            vwap = np.where(v > 0, quote / np.where(v > 0, v, 1), c) if "quote_volume" in found else typical
        derived["vwap"] = "quote_volume / volume" if "quote_volume" in found else "typical price"
    if "buy_volume" in found:
        buy = cols["buy_volume"]
    else:
        buy, derived["buy_volume"] = v / 2, "half the volume (not in the file: order-flow factors carry no information)"
    if "buy_quote_volume" in found:
        buy_quote = cols["buy_quote_volume"]
    else:
        buy_quote, derived["buy_quote_volume"] = quote / 2, "half the quote volume (not in the file)"
    if "n_trades" in found:
        n_trades = cols["n_trades"].astype(np.int64)
    else:
        n_trades, derived["n_trades"] = np.zeros(len(o), dtype=np.int64), "0 (unknown)"
    derived["ts_close"] = "the interval's last microsecond"
    derived["first_trade_id, last_trade_id"] = "0 (no trades behind imported bars)"
    zeros = np.zeros(len(o), dtype=np.int64)
    ts = pa.array(start, type=pa.int64()).cast(TS_TYPE)
    arrays = [ts, pa.array(start + step - 1, type=pa.int64()).cast(TS_TYPE), o, h, lo, c, v, quote, vwap, n_trades,
              buy, buy_quote, zeros, zeros]
    table = pa.Table.from_arrays([pa.array(a) if isinstance(a, np.ndarray) else a for a in arrays],
                                 schema=BARS_SCHEMA)
    return table.append_column(pa.field(PERIOD_START, TS_TYPE, nullable=False), ts), derived


def import_bars(request: BarImportRequest, lake: Lake, progress: ProgressCallback | None = None) -> BarImportReport:
    """Read every file, check every bar, then write the month partitions (all files good, or nothing)."""
    report = progress or (lambda fraction, message: None)
    for value, what in ((request.exchange, "exchange"), (request.market, "market"), (request.symbol, "symbol")):
        safe_value(value, what=what)
    check_timezone(request.time.timezone)
    step = interval_us(request.interval) if request.interval else None
    parts: dict[str, list[np.ndarray]] = {}
    locators: list[tuple[SourceBatch, np.ndarray]] = []
    sources: dict[str, str] = {}
    prev: int | None = None
    found: set[str] = set()
    for index, path in enumerate(request.files):
        path = Path(path).resolve()
        if not path.is_file():
            raise DataError("no such file", where=str(path), hint="check the path")
        sources[path.as_uri()] = file_sha256(path)
        # closed before an error leaves: its reader threads stop and are joined (see read_source)
        with contextlib.closing(read_source(path, BAR_ROLES, BAR_REQUIRED, request.columns, BAR_RULES)) as batches:
            for batch in batches:
                found = set(batch.columns)
                ts = to_utc_micros(batch.columns["ts"], request.time, where=batch.where,
                                   column=request.columns.get("ts", "ts"), locate=batch.locate)
                _check_bars(batch, ts, prev)
                prev = int(ts[-1])
                parts.setdefault("ts", []).append(ts)
                for role, values in batch.columns.items():
                    if role != "ts":
                        parts.setdefault(role, []).append(values.to_numpy(zero_copy_only=False))
                locators.append((batch, ts))
                report(0.8 * (index + batch.fraction) / len(request.files), path.name)
    if not parts:
        raise DataError("the files hold no bars", where=str(request.files[0]), hint="nothing was written")
    start = np.concatenate(parts.pop("ts"))
    if step is None:
        gaps = np.diff(start)
        step = int(gaps.min()) if len(gaps) else _UNITS_US["d"]
    for batch, ts in locators:  # every bar on the interval's grid (as aggregated time bars are)
        off = np.flatnonzero(ts % step)
        if len(off):
            row = int(off[0])
            raise DataError(f"{batch.locate(row)}: bar at {np.datetime64(int(ts[row]), 'us')}Z is not on the "
                            f"{interval_label(step)} grid (intervals start at multiples of it from 1970-01-01 UTC)",
                            where=batch.where, hint="check --interval and --timezone (times are bar open times)")
    label = interval_label(step)
    spec = safe_value(IMPORTED_PREFIX + (request.name or label), what="bars name")
    table, derived = _derive(found, {k: np.concatenate(v) for k, v in parts.items()}, start, step)
    return _write_months(request, lake, spec, label, table, derived, sources, report)


def _write_months(request: BarImportRequest, lake: Lake, spec: str, label: str, table: pa.Table,
                  derived: dict[str, str], sources: dict[str, str], report: ProgressCallback) -> BarImportReport:
    if not request.new_name:
        check_new_names(lake, f"bars/spec={spec}", request.exchange, request.market, request.symbol)
    folder = lake.bars_dir(spec, request.exchange, request.market, request.symbol)
    old = sorted(folder.glob("month=*")) if folder.exists() else []
    if old and not request.force:
        raise DataError(f"{request.symbol} already has bars under bars/spec={spec}", where=str(folder),
                        hint="add --force to replace them, or --name to import under another spec id")
    months = pc.strftime(table.column("ts"), format="%Y-%m").to_numpy(zero_copy_only=False)
    cuts = np.concatenate(([0], np.flatnonzero(months[1:] != months[:-1]) + 1, [len(months)]))
    written = []
    for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
        month = str(months[a])
        part = table.slice(a, b - a)
        provenance = Provenance(
            source=next(iter(sources)), checksum=next(iter(sources.values())), rows=part.num_rows,
            min_ts=part.column("ts")[0].as_py().isoformat(), max_ts=part.column("ts")[-1].as_py().isoformat(),
            created_by="cde import",
            extra={"exchange": request.exchange, "market": request.market, "symbol": request.symbol,
                   "bar": "imported", "interval": label, "sources": sources,
                   "imported": {"columns": request.columns, "time": request.time.describe(), "derived": derived}})
        lake.write_partition(folder / f"month={month}", part, provenance)
        written.append(month)
        report(0.8 + 0.2 * len(written) / (len(cuts) - 1), month)
    for stale in old:  # --force: months of the earlier import that this one does not cover
        if stale.name.removeprefix("month=") not in written:
            if isinstance(stale, ObjectPath):
                stale.remove_tree()
            else:
                shutil.rmtree(stale)
    first, last = table.column("ts")[0].as_py(), table.column("ts")[-1].as_py()
    return BarImportReport(spec=spec, exchange=request.exchange, market=request.market, symbol=request.symbol,
                           bars=table.num_rows, interval=label, first=first.astimezone(UTC),
                           last=last.astimezone(UTC), months=written, derived=derived)
