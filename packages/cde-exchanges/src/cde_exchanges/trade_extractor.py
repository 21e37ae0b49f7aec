"""Zip files of one symbol → canonical trades → one Parquet partition per UTC day.

The symbol's files are read in date order as one continuous stream of batches (memory: one CSV piece
plus one pending row group per open day), so monthly files split into days, a day spread over two
files (OKX) is joined, and the validator sees every day boundary. A day is committed once no later
file can add to it; on any error the open days are aborted (their temporary files removed) and
reported as failed, while days already committed stay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from cde_core.arrow_views import numpy_view
from cde_core.errors import CdeError
from cde_core.lake import Lake, Provenance
from cde_exchanges.archive_exchange import ArchiveExchange
from cde_exchanges.archive_files import ArchiveFile
from cde_exchanges.download_cancel import CancelFlag
from cde_exchanges.download_models import DayOutcome
from cde_exchanges.partition_writer import TradePartitionWriter
from cde_exchanges.trade_validation import TradeStreamValidator

DAY_US = 86_400_000_000
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class SourceZip:
    file: ArchiveFile
    path: Path
    url: str
    sha256: str | None


@dataclass(frozen=True)
class SymbolExtraction:
    """Everything one extraction job needs (picklable, so it can run in a process or on a cluster)."""

    adapter: ArchiveExchange
    params: Any
    lake_root: Path
    market: str
    kind: str
    symbol: str
    sources: tuple[SourceZip, ...]
    wanted: frozenset[date]
    prev_id: int | None = None
    prev_ts: int | None = None
    cancel: CancelFlag = field(default_factory=CancelFlag)


@dataclass
class _OpenDay:
    writer: TradePartitionWriter
    sources: dict[str, str | None] = field(default_factory=dict)


def day_number(day: date) -> int:
    return (day - EPOCH).days


def extract_symbol(job: SymbolExtraction) -> list[DayOutcome]:
    """Run one job; never raises for data problems (they become failed days with the error)."""
    lake = Lake(job.lake_root, trade_kind=job.kind)  # trades_dir then addresses this kind's own tree
    validator = TradeStreamValidator(job.prev_id, job.prev_ts)
    wanted = {day_number(d) for d in job.wanted}
    open_days: dict[int, _OpenDay] = {}
    done: dict[int, DayOutcome] = {}
    covered: set[int] = set()
    try:
        for index, source in enumerate(job.sources):
            first, last = day_number(source.file.first_day), day_number(source.file.last_day)
            covered.update(range(first, last + 1))
            for batch in job.adapter.read_trades(source.path, source.file, job.params):
                job.cancel.raise_if_set(job.symbol)  # aborts the open days below: nothing half-written
                _route(batch, job, lake, validator, wanted, open_days, source)
            horizon = (day_number(job.sources[index + 1].file.first_day) - job.adapter.spill_days
                       if index + 1 < len(job.sources) else None)
            for day in sorted(open_days):
                if horizon is None or day < horizon:
                    done[day] = _commit(job, day, open_days.pop(day), validator)
    except (CdeError, pa.ArrowException, OSError, ValueError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        for day, open_day in open_days.items():
            open_day.writer.abort()
            done[day] = DayOutcome(symbol=job.symbol, date=EPOCH + timedelta(days=day), status="failed",
                                   error=message)
        for day in wanted - set(done):
            done[day] = DayOutcome(symbol=job.symbol, date=EPOCH + timedelta(days=day), status="failed",
                                   error=message)
        return [done[d] for d in sorted(done)]
    empty_sources = {s.url: s.sha256 for s in job.sources}
    for day in sorted(wanted - set(done)):
        if day in covered:  # the file for that day exists and holds no trade of it
            writer = TradePartitionWriter(lake.trades_dir(job.adapter.name, job.market, job.symbol,
                                                          EPOCH + timedelta(days=day)))
            done[day] = _commit(job, day, _OpenDay(writer, dict(empty_sources)), validator)
        else:
            done[day] = DayOutcome(symbol=job.symbol, date=EPOCH + timedelta(days=day), status="missing")
    return [done[d] for d in sorted(done)]


def _route(batch: pa.RecordBatch, job: SymbolExtraction, lake: Lake, validator: TradeStreamValidator,
           wanted: set[int], open_days: dict[int, _OpenDay], source: SourceZip) -> None:
    """Append each same-day run of ``batch`` to its day (rows of days not asked for are left out:
    they belong to partitions this run does not write, e.g. the neighbours of a monthly file's days)."""
    if batch.num_rows == 0:
        return
    ts = numpy_view(batch.column(0))
    ids = numpy_view(batch.column(1))
    days = ts // DAY_US
    cuts = np.flatnonzero(np.diff(days)) + 1
    starts = np.concatenate(([0], cuts))
    stops = np.concatenate((cuts, [len(days)]))
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        day = int(days[a])
        if day not in wanted:
            continue
        validator.observe(day, ids[a:b], ts[a:b])
        if day not in open_days:
            folder = lake.trades_dir(job.adapter.name, job.market, job.symbol, EPOCH + timedelta(days=day))
            open_days[day] = _OpenDay(TradePartitionWriter(folder))
        open_days[day].sources[source.url] = source.sha256
        open_days[day].writer.write(batch.slice(a, b - a))


def iso_from_us(us: int | None) -> str | None:
    """Provenance's timestamp form: ISO 8601 in µs with a Z."""
    if us is None:
        return None
    return np.datetime64(us, "us").astype(str) + "Z"


def _commit(job: SymbolExtraction, day: int, open_day: _OpenDay, validator: TradeStreamValidator) -> DayOutcome:
    findings = validator.findings(day)
    report = findings.as_dict()
    urls = list(open_day.sources)
    provenance = Provenance(
        source=urls[0] if urls else "", checksum=open_day.sources.get(urls[0]) if urls else None,
        rows=open_day.writer.rows, first_trade_id=findings.min_id, last_trade_id=findings.max_id,
        min_ts=iso_from_us(findings.min_ts), max_ts=iso_from_us(findings.max_ts), created_by="cde-exchanges",
        extra={"exchange": job.adapter.name, "market": job.market, "kind": job.kind, "symbol": job.symbol,
               "sources": open_day.sources, "validation": report},
    )
    open_day.writer.commit(provenance)
    return DayOutcome(symbol=job.symbol, date=EPOCH + timedelta(days=day), status="written",
                      rows=open_day.writer.rows, validation=report)
