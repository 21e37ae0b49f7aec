"""Stream one symbol-day of trades into its lake partition, atomically, with provenance.

:meth:`cde_core.lake.Lake.write_partition` needs the whole table in memory; a busy day is millions of
rows, so this writer appends batches to a hidden temporary Parquet file (the lake's encoding,
:mod:`cde_core.parquet_encoding`) and puts the provenance into the footer when it closes
(``Lake.read_provenance`` reads it there), then commits it through :func:`cde_core.atomic.atomic_path`:
a rename into place on a local disk, an upload to a hidden staged key and a server-side copy to the
final key in a bucket (the temporary file is then local scratch). Until that commit the partition does
not exist.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cde_core.atomic import atomic_path
from cde_core.lake import PART_FILE, PROVENANCE_KEY, Provenance
from cde_core.lake_location import LakePath
from cde_core.parquet_encoding import parquet_write_options
from cde_core.schemas import TRADES_SCHEMA
from cde_exchanges.formats.csv_formats import extraction_pool

#: rows per Parquet row group: the pending rows and the writer's encoded pages of one row group are what
#: the writer holds in memory (2^18 rows measured ~30 MB more peak RSS than 2^17, at the same speed)
ROW_GROUP_ROWS = 1 << 17


class TradePartitionWriter:
    def __init__(self, folder: LakePath) -> None:
        self.target = folder / PART_FILE
        # entered here, left by commit (publishes) or abort (removes the temporary file)
        self._commit = atomic_path(self.target)
        self.tmp: Path = self._commit.__enter__()
        self._writer = pq.ParquetWriter(self.tmp, TRADES_SCHEMA, memory_pool=extraction_pool(),
                                        **parquet_write_options(TRADES_SCHEMA))
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        self.rows += batch.num_rows
        if self._pending_rows >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._writer.write_table(pa.Table.from_batches(self._pending, schema=TRADES_SCHEMA))
            self._pending, self._pending_rows = [], 0

    def close_file(self, provenance: Provenance) -> None:
        """Finish the temporary file with its provenance in the footer; nothing is visible yet."""
        self._flush()
        self._writer.add_key_value_metadata({PROVENANCE_KEY.decode(): provenance.model_dump_json()})
        self._writer.close()

    def publish(self) -> LakePath:
        """Make the closed temporary file the partition (atomic_path's commit)."""
        self._commit.__exit__(None, None, None)
        return self.target

    def commit(self, provenance: Provenance) -> LakePath:
        self.close_file(provenance)
        return self.publish()

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._writer.close()
        with contextlib.suppress(Exception):  # atomic_path removes its temporary file on an error
            self._commit.__exit__(_Aborted, _Aborted(), None)


class _Aborted(Exception):
    """Thrown into atomic_path to make it discard the temporary file instead of publishing it."""
