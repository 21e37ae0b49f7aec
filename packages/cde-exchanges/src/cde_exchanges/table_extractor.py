"""Zip files of one symbol of a small kind (klines, funding rates) → one lake partition per key.

The trade extractor streams millions of rows per day; these kinds are small (a day of 1s klines is
86,400 rows, a month of funding rates ~90), so each partition's rows are gathered in memory and
written with :meth:`cde_core.lake.Lake.write_partition` (atomic, provenance in the file). A file's
partitions are committed when the file has been read (Binance files do not spill into the next
day); on any error the partitions not yet written are reported failed with the error, and those
already written stay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cde_core.arrow_views import numpy_view
from cde_core.errors import CdeError
from cde_core.lake import Provenance
from cde_core.schemas import is_sorted, validate_table
from cde_exchanges.archive_exchange import ArchiveExchange
from cde_exchanges.download_cancel import CancelFlag
from cde_exchanges.download_models import DayOutcome
from cde_exchanges.download_plan import days_between
from cde_exchanges.lake_targets import LakeTarget
from cde_exchanges.trade_extractor import SourceZip, iso_from_us


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


def extract_tables(job: TableExtraction) -> list[DayOutcome]:
    """Run one job; never raises for data problems (they become failed partitions with the error)."""
    done: dict[date, DayOutcome] = {}
    covered: set[date] = set()
    pending: dict[date, list[pa.RecordBatch]] = {}
    sources: dict[date, dict[str, str | None]] = {}
    try:
        for source in job.sources:
            file_keys = {job.target.key(d) for d in days_between(source.file.first_day, source.file.last_day)}
            covered.update(file_keys)
            for batch in job.adapter.read_records(source.path, source.file, job.params):
                job.cancel.raise_if_set(job.symbol)
                for key, rows in _split(batch, job.target):
                    if key in job.wanted and key not in done:
                        pending.setdefault(key, []).append(rows)
                        sources.setdefault(key, {})[source.url] = source.sha256
            for key in sorted((file_keys & job.wanted) - set(done)):
                sources.setdefault(key, {})[source.url] = source.sha256
                done[key] = _commit(job, key, pending.pop(key, []), sources.pop(key))
    except (CdeError, pa.ArrowException, OSError, ValueError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        for key in job.wanted - set(done):
            done[key] = DayOutcome(symbol=job.symbol, date=key, status="failed", error=message)
        return [done[k] for k in sorted(done)]
    for key in job.wanted - set(done):
        done[key] = DayOutcome(symbol=job.symbol, date=key, status="missing")
    return [done[k] for k in sorted(done)]


def _split(batch: pa.RecordBatch, target: LakeTarget) -> list[tuple[date, pa.RecordBatch]]:
    """The rows of ``batch`` per partition key, each in file order."""
    if batch.num_rows == 0:
        return []
    keys = target.keys_of(numpy_view(batch.column(target.time_column)))
    return [(key.item(), batch.filter(pa.array(keys == key))) for key in np.unique(keys)]


def _commit(job: TableExtraction, key: date, batches: list[pa.RecordBatch],
            sources: dict[str, str | None]) -> DayOutcome:
    target = job.target
    table = pa.Table.from_batches(batches, schema=target.schema)
    validate_table(table, target.schema, where=f"{job.symbol} {key}")
    times = table.column(target.time_column)
    bounds = pc.min_max(times) if table.num_rows else None
    validation = {"duplicates": table.num_rows - len(pc.unique(times)), "non_monotonic_ts": int(not is_sorted(times))}
    urls = list(sources)
    provenance = Provenance(
        source=urls[0] if urls else "", checksum=sources.get(urls[0]) if urls else None, rows=table.num_rows,
        min_ts=iso_from_us(bounds["min"].value) if bounds else None,
        max_ts=iso_from_us(bounds["max"].value) if bounds else None,
        created_by="cde-exchanges",
        extra={**target.provenance_extra(job.symbol), "sources": sources, "validation": validation})
    target.lake.write_partition(target.folder(job.symbol, key), table, provenance)
    return DayOutcome(symbol=job.symbol, date=key, status="written", rows=table.num_rows, validation=validation)

