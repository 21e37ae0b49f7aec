"""``cde import trades``: a user's own tick files into the trades lake, as a download writes them.

The rows are made canonical (:data:`cde_core.schemas.TRADES_SCHEMA`), checked by the download's own
rules (value rules of :mod:`cde_exchanges.extraction.trade_values`, id gaps / duplicates / ordering findings of
:class:`~cde_exchanges.extraction.trade_validation.TradeStreamValidator`), and written one partition per UTC day
with provenance, so ``cde lake ls`` counts them and ``cde lake verify`` checks them like downloaded days.

What an import adds, because a user's file is not an exchange archive:

- rows must be in time order (across the files, in the order given): a row earlier than the one before
  is an error naming its file and line, since the right order cannot be known;
- ``is_buyer_maker`` comes from a column, from a ``side`` column (buy/sell, the taker's side), or from
  the tick rule (:mod:`cde_exchanges.importing.tick_rule`); ``trade_id`` from a column or generated (1, 2, …
  in stream order); ``quote_qty`` from a column or price × qty. Which one is recorded per day
  (``extra.imported`` of the provenance);
- all or nothing: days are sealed as they end and published only when every file was read
  (:mod:`cde_exchanges.importing.staged_partition`); a day already in the lake is refused unless ``force``.
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field

from cde_core.atomic import remove_dead_writers_temps
from cde_core.errors import CdeError, DataError
from cde_core.lake import Lake, Provenance, safe_value
from cde_core.progress import ProgressCallback
from cde_core.schemas import TRADES_SCHEMA, TS_TYPE
from cde_exchanges.extraction.trade_extractor import iso_from_us
from cde_exchanges.extraction.trade_validation import TradeStreamValidator
from cde_exchanges.extraction.trade_values import check_trade_values
from cde_exchanges.formats.csv_checks import ValueRule
from cde_exchanges.importing.import_columns import ValueKind
from cde_exchanges.importing.import_sources import FIX_HINT, SourceBatch, read_source, users_file
from cde_exchanges.importing.import_timestamps import TimeOptions, check_timezone, to_utc_micros
from cde_exchanges.importing.new_names import check_new_names
from cde_exchanges.importing.staged_partition import StagedTradePartition
from cde_exchanges.importing.tick_rule import TickRule

DAY_US = 86_400_000_000
EPOCH = date(1970, 1, 1)
TRADE_ROLES: dict[str, ValueKind] = {"ts": "time", "price": "float", "qty": "float", "quote_qty": "float",
                                     "trade_id": "int", "is_buyer_maker": "bool", "side": "string"}
TRADE_RULES: dict[str, ValueRule] = {"price": "positive", "qty": "non_negative", "quote_qty": "non_negative"}
_SELL = {"sell", "s", "ask", "short"}
_BUY = {"buy", "b", "bid", "long"}


class TradeImportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: list[Path] = Field(min_length=1, description="CSV, CSV.gz or Parquet files, in time order")
    exchange: str = Field(description="exchange partition to write, e.g. cme or myvendor")
    market: str = Field(description="market partition, e.g. spot or futures")
    symbol: str = Field(description="symbol partition, e.g. ES or BTCUSDT")
    columns: dict[str, str] = Field(default_factory=dict, description="role → file column (ts, price, qty, "
                                    "quote_qty, trade_id, is_buyer_maker, side)")
    time: TimeOptions = Field(default_factory=TimeOptions)
    force: bool = Field(False, description="replace days already in the lake")
    new_name: bool = Field(False, description="the exchange, market or symbol is new on purpose, although "
                                              "close to one the lake holds (otherwise refused as a typo)")
    first_trade_id: int = Field(1, ge=0, description="first generated trade id (files without trade ids)")


class ImportedDay(BaseModel):
    date: date
    rows: int
    path: str
    validation: dict[str, object]


class TradeImportReport(BaseModel):
    exchange: str
    market: str
    symbol: str
    rows: int
    days: list[ImportedDay]
    is_buyer_maker: str = Field(description="where the side came from: column, side column or tick rule")
    trade_id: str
    quote_qty: str


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class _TradeImport:
    """One import's stream state: clocks and counters carried across batches, files and days."""

    def __init__(self, request: TradeImportRequest, lake: Lake) -> None:
        self.request = request
        self.lake = lake
        self.validator = TradeStreamValidator()
        self.tick_rule = TickRule()
        self.next_id = request.first_trade_id
        self.prev_ts: int | None = None
        self.day: int | None = None
        self.day_sources: set[str] = set()
        self.writer: StagedTradePartition | None = None
        self.sealed: list[tuple[StagedTradePartition, ImportedDay]] = []
        self.sources: dict[str, str] = {}
        self.origin: dict[str, str] = {}
        self.rows_in_file = 0

    # -- rows ------------------------------------------------------------------------------------
    def canonical(self, batch: SourceBatch, first_row: int) -> pa.RecordBatch:
        """``batch`` as canonical trades; values are checked (the download's rules) before anything is
        derived from them (the tick rule)."""
        cols = batch.columns
        ts = to_utc_micros(cols["ts"], self.request.time, where=batch.where,
                           column=self.request.columns.get("ts", "ts"), locate=batch.locate)
        self._check_order(ts, batch)
        price, qty = cols["price"], cols["qty"]
        quote = cols["quote_qty"] if "quote_qty" in cols else pc.multiply(price, qty)
        ts_array = pa.array(ts, type=pa.int64()).cast(TS_TYPE)
        unsided = pa.RecordBatch.from_arrays([ts_array, pa.nulls(len(ts), pa.int64()), price, qty, quote,
                                              pa.nulls(len(ts), pa.bool_())], names=TRADES_SCHEMA.names)
        try:
            check_trade_values(unsided, where=batch.where, first_row=first_row)
        except DataError as exc:
            raise users_file(exc) from None
        if "trade_id" in cols:
            ids = cols["trade_id"]
        else:
            ids = pa.array(np.arange(self.next_id, self.next_id + len(ts), dtype=np.int64))
            self.next_id += len(ts)
        if "is_buyer_maker" in cols:
            maker = cols["is_buyer_maker"]
        elif "side" in cols:
            maker = self._from_side(cols["side"], batch)
        else:
            maker = pa.array(self.tick_rule.is_buyer_maker(price.to_numpy(zero_copy_only=False)))
        return pa.RecordBatch.from_arrays([ts_array, ids, price, qty, quote, maker], schema=TRADES_SCHEMA)

    def _check_order(self, ts: np.ndarray, batch: SourceBatch) -> None:
        before = np.diff(ts, prepend=ts[0] if self.prev_ts is None else self.prev_ts)
        back = np.flatnonzero(before < 0)
        if len(back):
            row = int(back[0])
            previous = int(ts[row - 1]) if row else int(self.prev_ts or 0)
            raise DataError(f"{batch.locate(row)}: time goes backwards ({iso_from_us(int(ts[row]))} after "
                            f"{iso_from_us(previous)})", where=batch.where,
                            hint="sort the rows by time (and give the files in time order) before importing")
        self.prev_ts = int(ts[-1])

    def _from_side(self, side: pa.Array, batch: SourceBatch) -> pa.Array:
        lower = pc.utf8_lower(pc.utf8_trim_whitespace(side))
        sell = pc.is_in(lower, value_set=pa.array(sorted(_SELL)))
        known = pc.or_(sell, pc.is_in(lower, value_set=pa.array(sorted(_BUY))))
        if not pc.all(known).as_py():
            row = int(pc.index(known, False).as_py())
            raise DataError(f"{batch.locate(row)}: side is '{side[row].as_py()}', not buy or sell", where=batch.where,
                            hint=FIX_HINT)
        return sell

    # -- days ------------------------------------------------------------------------------------
    def route(self, batch: pa.RecordBatch, source_url: str) -> None:
        ts = batch.column(0).cast(pa.int64()).to_numpy()
        ids = batch.column(1).to_numpy()
        qty = batch.column(3).to_numpy()
        days = ts // DAY_US
        cuts = np.concatenate(([0], np.flatnonzero(np.diff(days)) + 1, [len(days)]))
        for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
            day = int(days[a])
            if day != self.day:
                self._seal()
                self._open(day)
            assert self.writer is not None
            self.validator.observe(day, ids[a:b], ts[a:b])
            self.validator.day(day).zero_qty += int(np.count_nonzero(qty[a:b] == 0))
            self.writer.write(batch.slice(a, b - a))
            self.day_sources.add(source_url)

    def _open(self, day: int) -> None:
        when = EPOCH + timedelta(days=day)
        folder = self.lake.trades_dir(self.request.exchange, self.request.market, self.request.symbol, when)
        if (folder / "part-0.parquet").exists() and not self.request.force:
            raise DataError(f"{self.request.symbol} {when} is already in the lake", where=str(folder),
                            hint="add --force to replace it")
        if isinstance(folder, Path):  # what a killed import left here (in a bucket: swept by age on download)
            remove_dead_writers_temps(folder)
        self.writer = StagedTradePartition(folder)
        self.day, self.day_sources = day, set()

    def _seal(self) -> None:
        if self.writer is None or self.day is None:
            return
        findings = self.validator.findings(self.day)
        report = findings.as_dict()
        urls = sorted(self.day_sources)
        provenance = Provenance(
            source=urls[0], checksum=self.sources[urls[0]], rows=self.writer.rows,
            first_trade_id=findings.min_id, last_trade_id=findings.max_id, min_ts=iso_from_us(findings.min_ts),
            max_ts=iso_from_us(findings.max_ts), created_by="cde import",
            extra={"exchange": self.request.exchange, "market": self.request.market, "kind": "trades",
                   "symbol": self.request.symbol, "sources": {u: self.sources[u] for u in urls},
                   "validation": report, "complete": True, "imported": dict(self.origin)})
        self.writer.seal(provenance)
        self.sealed.append((self.writer, ImportedDay(date=EPOCH + timedelta(days=self.day), rows=self.writer.rows,
                                                     path=str(self.writer.target), validation=report)))
        self.writer = None

    def discard(self) -> None:
        if self.writer is not None:
            self.writer.discard()
        for writer, _ in self.sealed:
            writer.discard()

    def publish(self) -> list[ImportedDay]:
        self._seal()
        for writer, _ in self.sealed:
            writer.publish()
        return [day for _, day in self.sealed]


def _origin(found: set[str], request: TradeImportRequest) -> dict[str, str]:
    cols = request.columns

    def named(role: str) -> str:
        return f"column '{cols.get(role, role)}'"

    return {
        "is_buyer_maker": named("is_buyer_maker") if "is_buyer_maker" in found else
        (f"side {named('side')} (the taker's side)" if "side" in found else
         "tick rule (up-tick: buyer-initiated; same price: the previous trade's side; first trades: buyer)"),
        "trade_id": named("trade_id") if "trade_id" in found else
        f"generated: {request.first_trade_id}, {request.first_trade_id + 1}, … in time order over the import",
        "quote_qty": named("quote_qty") if "quote_qty" in found else "price × qty",
        "ts": f"{named('ts')}; " + ", ".join(f"{k}={v}" for k, v in request.time.describe().items() if v),
        "files": ", ".join(str(f) for f in request.files),
    }


def import_trades(request: TradeImportRequest, lake: Lake, progress: ProgressCallback | None = None
                  ) -> TradeImportReport:
    """Import ``request.files``; all their days appear in the lake together, or none does."""
    report = progress or (lambda fraction, message: None)
    for value, what in ((request.exchange, "exchange"), (request.market, "market"), (request.symbol, "symbol")):
        safe_value(value, what=what)
    check_timezone(request.time.timezone)
    missing = [str(f) for f in request.files if not Path(f).is_file()]
    if missing:
        raise DataError("no such file", where=missing[0], hint="check the path")
    if not request.new_name:
        check_new_names(lake, "trades", request.exchange, request.market, request.symbol)
    run = _TradeImport(request, lake)
    rows = 0
    try:
        for index, path in enumerate(request.files):
            path = Path(path).resolve()
            url = path.as_uri()
            run.sources[url] = file_sha256(path)
            file_rows = 0
            # closed before an error leaves: its reader threads stop and are joined (see read_source)
            with contextlib.closing(read_source(path, TRADE_ROLES, {"ts", "price", "qty"}, request.columns,
                                                TRADE_RULES)) as batches:
                for batch in batches:
                    if not run.origin:
                        run.origin = _origin(set(batch.columns), request)
                    canonical = run.canonical(batch, file_rows)
                    run.route(canonical, url)
                    file_rows += canonical.num_rows
                    report((index + batch.fraction) / len(request.files), path.name)
            rows += file_rows
        days = run.publish()
    except CdeError as exc:
        run.discard()
        hint = f"{exc.hint}; nothing of this import was written" if exc.hint else "nothing of this import was written"
        raise type(exc)(exc.what, where=exc.where, hint=hint) from None
    except BaseException:
        run.discard()
        raise
    if rows == 0:
        raise DataError("the files hold no rows", where=str(request.files[0]), hint="nothing was written")
    report(1.0, "done")
    return TradeImportReport(exchange=request.exchange, market=request.market, symbol=request.symbol, rows=rows,
                             days=days, is_buyer_maker=run.origin["is_buyer_maker"], trade_id=run.origin["trade_id"],
                             quote_qty=run.origin["quote_qty"])

