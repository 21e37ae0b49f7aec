"""Zip files of one symbol of a small kind (klines, funding rates) → one lake partition per key.

The trade extractor streams millions of rows per day; these kinds are small (a day of 1s klines is
86,400 rows, a month of funding rates ~90), so each partition's rows are gathered in memory and
written with :meth:`cde_core.lake.Lake.write_partition` (atomic, provenance in the file). A file's
partitions are committed when the file has been read (Binance files do not spill into the next
day). A file writes only its own partitions (rows dated elsewhere are counted as ``foreign_rows``,
never written); an error in a file fails that file's partitions only, naming the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cde_core.arrow_views import numpy_view
from cde_core.errors import CdeError, DataError
from cde_core.lake import Provenance
from cde_core.schemas import is_sorted, validate_table
from cde_exchanges.download.cancel import CancelFlag
from cde_exchanges.download.models import DayOutcome
from cde_exchanges.extraction.trade_extractor import SourceZip, fewer_rows_than_committed, iso_from_us, one_line
from cde_exchanges.formats.archive_exchange import ArchiveExchange
from cde_exchanges.lake.targets import LakeTarget
from cde_exchanges.utc_days import days_between


@dataclass(frozen=True)
class TableExtraction:
    """One symbol's files of a small kind and the partition keys wanted from them (picklable)."""

    adapter: ArchiveExchange
    params: Any
    target: LakeTarget
    symbol: str
    sources: tuple[SourceZip, ...]
    wanted: frozenset[date]
    cancel: CancelFlag = field(default_factory=CancelFlag)
    #: rows of the committed partitions this job rewrites (``--force``): none is replaced by fewer rows
    committed_rows: dict[date, int] = field(default_factory=dict)


def extract_tables(job: TableExtraction) -> list[DayOutcome]:
    """Run one job; never raises for data problems (they become failed partitions with the error).

    As for trades (:mod:`cde_exchanges.extraction.trade_extractor`): a file writes only its own partitions; rows
    dated outside them are counted (``foreign_rows``) on its nearest partition and never written; a file
    most of whose rows are foreign, or any error in a file, fails that file's partitions only."""
    done: dict[date, DayOutcome] = {}
    for source in job.sources:
        file_keys = sorted({job.target.key(d) for d in days_between(source.file.first_day, source.file.last_day)})
        try:
            pending, foreign = _read_file(job, source, file_keys, done)
        except (CdeError, pa.ArrowException, OSError, ValueError) as exc:
            message = one_line(exc, source.file)
            for key in sorted(set(file_keys) & job.wanted - set(done)):
                done[key] = DayOutcome(symbol=job.symbol, date=key, status="failed", error=message)
            continue
        for key in sorted(set(file_keys) & job.wanted - set(done)):
            done[key] = _commit(job, key, pending.get(key, []), source, foreign.get(key))
    for key in job.wanted - set(done):
        done[key] = DayOutcome(symbol=job.symbol, date=key, status="missing")
    return [done[k] for k in sorted(done)]


def _read_file(job: TableExtraction, source: SourceZip, file_keys: list[date], done: dict[date, DayOutcome],
               ) -> tuple[dict[date, list[pa.RecordBatch]], dict[date, dict[str, Any]]]:
    """The rows of ``source`` per wanted partition of its own, and the foreign rows per own partition."""
    pending: dict[date, list[pa.RecordBatch]] = {}
    foreign: dict[date, dict[str, Any]] = {}
    own_keys = set(file_keys)
    own = theirs = 0
    for batch in job.adapter.read_records(source.path, source.file, job.params):
        job.cancel.raise_if_set(job.symbol)
        for key, rows in _split(batch, job.target):
            if key not in own_keys:
                theirs += rows.num_rows
                nearest = min(max(key, file_keys[0]), file_keys[-1])
                entry = foreign.setdefault(nearest, {"foreign_rows": 0, "foreign_dates": set()})
                entry["foreign_rows"] += rows.num_rows
                entry["foreign_dates"].add(key)
                continue
            own += rows.num_rows
            if key in job.wanted and key not in done:
                pending.setdefault(key, []).append(rows)
    if theirs > own:
        found = sorted({d for entry in foreign.values() for d in entry["foreign_dates"]})
        raise DataError(f"{theirs:,} of {own + theirs:,} rows are dated {_span(found)}, not "
                        f"{_span(file_keys)} as the file's name says", where=source.file.name,
                        hint="another period's data may be published under this name, or the time unit "
                             "changed; nothing of it was written; report it")
    return pending, foreign


def _span(keys: list[date]) -> str:
    return ", ".join(map(str, keys)) if len(keys) <= 3 else f"{keys[0]} … {keys[-1]} ({len(keys)} partitions)"


def _split(batch: pa.RecordBatch, target: LakeTarget) -> list[tuple[date, pa.RecordBatch]]:
    """The rows of ``batch`` per partition key, each in file order."""
    if batch.num_rows == 0:
        return []
    keys = target.keys_of(numpy_view(batch.column(target.time_column)))
    return [(key.item(), batch.filter(pa.array(keys == key))) for key in np.unique(keys)]


def _repeated_time(times: pa.ChunkedArray) -> tuple[str, int] | None:
    """The first time that occurs more than once, and how often, or None.

    Why a failure and not a count as for trades: a kline is *the* candle of its interval and a funding
    row *the* settlement at its time; two rows for one time (equal or not) are two answers to one
    question, which every reader (``cde lake crosscheck``, the perp factors) would sum or pick at random."""
    if len(times) == 0:
        return None
    counts = pc.value_counts(times)
    many = pc.filter(counts, pc.greater(counts.field("counts"), 1))
    if len(many) == 0:
        return None
    first = many[0]
    return iso_from_us(first["values"].value), first["counts"].as_py()


def _commit(job: TableExtraction, key: date, batches: list[pa.RecordBatch], source: SourceZip,
            foreign: dict[str, Any] | None) -> DayOutcome:
    target = job.target
    table = pa.Table.from_batches(batches, schema=target.schema)
    refused = fewer_rows_than_committed(table.num_rows, job.committed_rows.get(key), job.symbol, key,
                                        target.folder(job.symbol, key), [source.url])
    if refused is not None:
        return DayOutcome(symbol=job.symbol, date=key, status="failed", error=refused)
    validate_table(table, target.schema, where=f"{job.symbol} {key}")
    times = table.column(target.time_column)
    repeated = _repeated_time(times)
    if repeated is not None:
        when, count = repeated
        period = f"{key:%Y-%m}" if target.spec.monthly else str(key)
        return DayOutcome(symbol=job.symbol, date=key, status="failed", error=(
            f"{source.file.name}: {target.time_column} {when} appears {count} times, but a {target.spec.name} "
            f"partition holds one row per {target.time_column}: the file is damaged; nothing of {job.symbol} "
            f"{period} was written — report it to the exchange"))
    bounds = pc.min_max(times) if table.num_rows else None
    validation: dict[str, Any] = {"duplicates": 0, "non_monotonic_ts": int(not is_sorted(times))}
    if foreign:
        validation.update(foreign_rows=foreign["foreign_rows"],
                          foreign_dates=sorted(map(str, foreign["foreign_dates"])))
    provenance = Provenance(
        source=source.url, checksum=source.sha256, rows=table.num_rows,
        min_ts=iso_from_us(bounds["min"].value) if bounds else None,
        max_ts=iso_from_us(bounds["max"].value) if bounds else None,
        created_by="cde-exchanges",
        extra={**target.provenance_extra(job.symbol), "sources": {source.url: source.sha256}, "validation": validation,
               **({"unverified_sources": [source.url]} if source.unverified else {})})
    target.lake.write_partition(target.folder(job.symbol, key), table, provenance)
    return DayOutcome(symbol=job.symbol, date=key, status="written", rows=table.num_rows, validation=validation)

