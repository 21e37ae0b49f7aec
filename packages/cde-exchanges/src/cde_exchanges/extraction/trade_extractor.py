"""Zip files of one symbol → canonical trades → one Parquet partition per UTC day.

The symbol's files are read in date order as one continuous stream of batches (memory: one CSV piece
plus one pending row group per open day), so monthly files split into days, a day spread over two
files (OKX) is joined, and the validator sees every day boundary.

Rules that keep a committed day whole (docs/exchanges.md, "Days are whole or not written"):

- **A file writes only its own days**: the days it is named for, plus, for an exchange whose files
  spill (OKX, cut on UTC+8), the tail of the day before. A row dated on any other day is *foreign*:
  it is never written (so a late or duplicated row can never reopen or rewrite another day), and it
  is counted in the provenance of the file's nearest own day (``foreign_rows``, ``foreign_dates``).
- **A file most of whose rows are foreign** (another day's data under this name, timestamps in another
  unit) fails its days with the dates found and expected; nothing of it is written.
- **A day is committed only when every file that can hold its rows was read**: its own file and, for
  spilling exchanges, the next day's. Otherwise it is *incomplete*: reported, not written, and fetched
  again by the next run.
- **An error in one file fails that file's days** (and the open days waiting for it), with a message
  naming the file and line; the other files' days go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from cde_core.arrow_views import numpy_view
from cde_core.errors import CdeError, DataError
from cde_core.lake import PART_FILE, Lake, Provenance
from cde_core.lake_location import LakePath
from cde_exchanges.download.cancel import CancelFlag
from cde_exchanges.download.models import DayOutcome
from cde_exchanges.extraction.partition_writer import TradePartitionWriter
from cde_exchanges.extraction.trade_validation import TradeStreamValidator
from cde_exchanges.extraction.trade_values import check_trade_values
from cde_exchanges.formats.archive_exchange import ArchiveExchange
from cde_exchanges.formats.archive_files import ArchiveFile

DAY_US = 86_400_000_000
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class SourceZip:
    file: ArchiveFile
    path: Path
    url: str
    sha256: str | None
    #: published without a checksum and accepted on its zip CRC-32 alone (``--allow-unverified``)
    unverified: bool = False


@dataclass(frozen=True)
class SymbolExtraction:
    """Everything one extraction job needs (picklable, so it can run in a process or on a cluster)."""

    adapter: ArchiveExchange
    params: Any
    lake_root: LakePath
    market: str
    kind: str
    symbol: str
    sources: tuple[SourceZip, ...]
    wanted: frozenset[date]
    prev_id: int | None = None
    prev_ts: int | None = None
    cancel: CancelFlag = field(default_factory=CancelFlag)
    #: rows of the days already committed in the lake that this job rewrites (``--force``): none is
    #: replaced by fewer rows (:func:`fewer_rows_than_committed`)
    committed_rows: dict[date, int] = field(default_factory=dict)


@dataclass
class _OpenDay:
    writer: TradePartitionWriter
    sources: dict[str, str | None] = field(default_factory=dict)
    unverified: list[str] = field(default_factory=list)


def day_number(day: date) -> int:
    return (day - EPOCH).days


def date_of(day: int) -> date:
    return EPOCH + timedelta(days=day)


def one_line(exc: BaseException, file: ArchiveFile) -> str:
    """The first line of an error, naming the archive file when the error does not already."""
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return message if file.name in message else f"{file.name}: {message}"


def fewer_rows_than_committed(rows: int, committed: int | None, symbol: str, key: date, folder: LakePath,
                              sources: list[str]) -> str | None:
    """Why a re-download of ``key`` must not replace the committed partition, or None when it may.

    A committed day was whole when it was written; an archive that now yields fewer rows for it (a
    republished file that is partial, a header-only file, a monthly file missing days) would silently
    lose trades that a user trusted. The lake's day is kept and the day fails with both counts; a user
    who knows the smaller file is right deletes the partition and downloads the day again."""
    if committed is None or rows >= committed:
        return None
    names = ", ".join(sorted({url.rsplit("/", 1)[-1] for url in sources})) or "the archive"
    return (f"{names}: the archive now gives {rows:,} rows for {symbol} {key}, fewer than the {committed:,} of the "
            f"partition in the lake, which was kept (a re-download never replaces a day with less data); if the "
            f"smaller file is right, delete {folder / PART_FILE} and download the day again")


class _SymbolRun:
    """The state of one job: open and finished days, the days whose files were read, the validator."""

    def __init__(self, job: SymbolExtraction) -> None:
        self.job = job
        self.lake = Lake(job.lake_root, trade_kind=job.kind)  # trades_dir then addresses this kind's own tree
        self.validator = TradeStreamValidator(job.prev_id, job.prev_ts)
        self.wanted = {day_number(d) for d in job.wanted}
        self.open_days: dict[int, _OpenDay] = {}
        self.done: dict[int, DayOutcome] = {}
        self.read_days: set[int] = set()  # days of the files read through without error
        self.spill = job.adapter.spill_days

    def outcome(self, day: int, status: str, error: str | None = None) -> DayOutcome:
        return DayOutcome(symbol=self.job.symbol, date=date_of(day), status=status, error=error)  # type: ignore[arg-type]

    def writer(self, day: int) -> TradePartitionWriter:
        return TradePartitionWriter(self.lake.trades_dir(self.job.adapter.name, self.job.market, self.job.symbol,
                                                         date_of(day)))

    def fail_file(self, source: SourceZip, exc: BaseException) -> None:
        """``source`` failed: its days and the open days waiting for it fail with its error; the stream's
        continuity is lost, so the next file's first row is compared with nothing."""
        message = one_line(exc, source.file)
        for day, open_day in self.open_days.items():
            open_day.writer.abort()
            self.done[day] = self.outcome(day, "failed", message)
        self.open_days.clear()
        first, last = day_number(source.file.first_day), day_number(source.file.last_day)
        for day in sorted(self.wanted & set(range(first, last + 1)) - set(self.done)):
            self.done[day] = self.outcome(day, "failed", message)
        self.validator.forget_previous()

    def unread_files(self, day: int) -> list[int]:
        """The days of the files that may hold rows of ``day`` and were not read (its own file and, when
        files spill, the next ``spill`` days' files)."""
        return [d for d in range(day, day + self.spill + 1) if d not in self.read_days]

    def close(self, day: int, open_day: _OpenDay | None) -> None:
        """Commit ``day`` if every file that can hold its rows was read, else report it incomplete."""
        unread = self.unread_files(day)
        if unread:
            if open_day is not None:
                open_day.writer.abort()
            names = ", ".join(self.job.adapter.daily_file(self.job.market, self.job.kind, self.job.symbol,
                                                          date_of(d)).name for d in unread)
            self.done[day] = self.outcome(
                day, "incomplete",
                f"incomplete, not written: part of the day is in {names}, which could not be read (missing, "
                f"failed or not published yet); the next run fetches the day again")
            return
        if open_day is None:  # a day without trades: its provenance names the files that cover it
            open_day = _OpenDay(self.writer(day), {s.url: s.sha256 for s in self.job.sources
                                                   if s.file.first_day <= date_of(day) <= s.file.last_day})
        self.done[day] = _commit(self.job, day, open_day, self.validator)


def extract_symbol(job: SymbolExtraction) -> list[DayOutcome]:
    """Run one job; never raises for data problems (they become failed or incomplete days with the reason)."""
    run = _SymbolRun(job)
    for index, source in enumerate(job.sources):
        try:
            _read_file(run, source)
        except (CdeError, pa.ArrowException, OSError, ValueError) as exc:
            run.fail_file(source, exc)
            continue
        first, last = day_number(source.file.first_day), day_number(source.file.last_day)
        run.read_days.update(range(first, last + 1))
        horizon = (day_number(job.sources[index + 1].file.first_day) - run.spill
                   if index + 1 < len(job.sources) else None)
        for day in sorted(run.open_days):
            if horizon is None or day < horizon:
                run.close(day, run.open_days.pop(day))
    for day in sorted(run.open_days):  # waiting for a file that failed or never came
        run.close(day, run.open_days.pop(day))
    for day in sorted(run.wanted - set(run.done)):
        if day in run.read_days:  # the file for that day was read and holds no trade of it
            run.close(day, None)
        else:
            run.done[day] = run.outcome(day, "missing")
    return [run.done[d] for d in sorted(run.done)]


def _read_file(run: _SymbolRun, source: SourceZip) -> None:
    """Route every row of ``source`` to its day; raise when most of its rows are foreign."""
    file = source.file
    first, last = day_number(file.first_day), day_number(file.last_day)
    own_from = first - run.spill
    own = foreign = rows = 0
    found: set[int] = set()
    for batch in run.job.adapter.read_trades(source.path, file, run.job.params):
        run.job.cancel.raise_if_set(run.job.symbol)  # fails the open days: nothing half-written
        zero_qty = check_trade_values(batch, where=file.name, first_row=rows)
        rows += batch.num_rows
        mine, theirs = _route(batch, run, source, (own_from, last), found, count_zero=zero_qty)
        own, foreign = own + mine, foreign + theirs
    if foreign > own:
        raise DataError(f"{foreign:,} of {own + foreign:,} rows are dated {_dates(found)}, not "
                        f"{_dates(set(range(first, last + 1)))} as the file's name says",
                        where=file.name, hint="another day's data may be published under this name, or the "
                                              "time unit changed; nothing of it was written; report it")


def _dates(days: set[int]) -> str:
    ordered = sorted(days)
    if len(ordered) <= 3:
        return ", ".join(str(date_of(d)) for d in ordered)
    return f"{date_of(ordered[0])} … {date_of(ordered[-1])} ({len(ordered)} days)"


def _route(batch: pa.RecordBatch, run: _SymbolRun, source: SourceZip, own: tuple[int, int],
           found: set[int], *, count_zero: bool) -> tuple[int, int]:
    """Append each same-day run of ``batch`` to its day; returns (own rows, foreign rows).

    Rows of the file's own days that were not asked for are left out (they belong to partitions this
    run does not write, e.g. the neighbours of a monthly file's days), as are rows of a day already
    finished in this run. Foreign rows are counted on the file's nearest own day (the day before its
    first, for a spilling exchange's file, is one of its own)."""
    if batch.num_rows == 0:
        return 0, 0
    own_from, last = own
    ts = numpy_view(batch.column(0))
    ids = numpy_view(batch.column(1))
    qty = numpy_view(batch.column(3)) if count_zero else None
    days = ts // DAY_US
    cuts = np.flatnonzero(np.diff(days)) + 1
    starts = np.concatenate(([0], cuts))
    stops = np.concatenate((cuts, [len(days)]))
    mine = theirs = 0
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        day = int(days[a])
        if day < own_from or day > last:
            theirs += b - a
            found.add(day)
            findings = run.validator.day(min(max(day, own_from), last))
            findings.foreign_rows += b - a
            findings.foreign_days.add(day)
            continue
        mine += b - a
        if day not in run.wanted or day in run.done:
            continue
        run.validator.observe(day, ids[a:b], ts[a:b])
        if qty is not None:
            run.validator.day(day).zero_qty += int(np.count_nonzero(qty[a:b] == 0))
        if day not in run.open_days:
            run.open_days[day] = _OpenDay(run.writer(day))
        open_day = run.open_days[day]
        open_day.sources[source.url] = source.sha256
        if source.unverified:
            open_day.unverified.append(source.url)
        open_day.writer.write(batch.slice(a, b - a))
    return mine, theirs

def iso_from_us(us: int | None) -> str | None:
    """Provenance's timestamp form: ISO 8601 in µs with a Z."""
    if us is None:
        return None
    return np.datetime64(us, "us").astype(str) + "Z"


def _commit(job: SymbolExtraction, day: int, open_day: _OpenDay, validator: TradeStreamValidator) -> DayOutcome:
    spill = timedelta(days=job.adapter.spill_days)
    covering = [s.url for s in job.sources if s.file.first_day - spill <= date_of(day) <= s.file.last_day]
    refused = fewer_rows_than_committed(open_day.writer.rows, job.committed_rows.get(date_of(day)), job.symbol,
                                        date_of(day), open_day.writer.target.parent, covering)
    if refused is not None:
        open_day.writer.abort()
        if validator.prev_ts is not None and validator.prev_ts // DAY_US == day:
            validator.forget_previous()  # the next day follows the lake's day, not these rows
        return DayOutcome(symbol=job.symbol, date=date_of(day), status="failed", error=refused)
    findings = validator.findings(day)
    report = findings.as_dict()
    urls = list(open_day.sources)
    provenance = Provenance(
        source=urls[0] if urls else "", checksum=open_day.sources.get(urls[0]) if urls else None,
        rows=open_day.writer.rows, first_trade_id=findings.min_id, last_trade_id=findings.max_id,
        min_ts=iso_from_us(findings.min_ts), max_ts=iso_from_us(findings.max_ts), created_by="cde-exchanges",
        extra={"exchange": job.adapter.name, "market": job.market, "kind": job.kind, "symbol": job.symbol,
               "sources": open_day.sources, "validation": report,
               **({"unverified_sources": sorted(set(open_day.unverified))} if open_day.unverified else {})},
    )
    open_day.writer.commit(provenance)
    return DayOutcome(symbol=job.symbol, date=EPOCH + timedelta(days=day), status="written",
                      rows=open_day.writer.rows, validation=report)
