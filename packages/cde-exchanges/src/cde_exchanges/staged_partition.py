"""A trade partition written now and published later: what makes an import all-or-nothing.

``cde import`` reads every file before any day becomes visible, so a bad line in the last file leaves
the lake exactly as it was. Each day is streamed to its hidden temporary file as for a download
(:class:`~cde_exchanges.partition_writer.TradePartitionWriter`), sealed with its provenance when the
day ends (so only one day's rows are ever pending in memory), and renamed into place only when the whole
import succeeded.
"""

from __future__ import annotations

import contextlib
import os

from cde_core.atomic import fsync_dir
from cde_core.lake import PROVENANCE_KEY, Provenance
from cde_exchanges.partition_writer import TradePartitionWriter


class StagedTradePartition(TradePartitionWriter):
    def seal(self, provenance: Provenance) -> None:
        """Finish the temporary file with its provenance; the partition stays invisible."""
        self._flush()
        self._writer.add_key_value_metadata({PROVENANCE_KEY.decode(): provenance.model_dump_json()})
        self._writer.close()
        with open(self.tmp, "rb+") as fh:
            os.fsync(fh.fileno())

    def publish(self) -> None:
        os.replace(self.tmp, self.target)
        fsync_dir(self.target.parent)

    def discard(self) -> None:
        """Remove the temporary file, and the day's folder when this import created it empty."""
        self.abort()
        with contextlib.suppress(OSError):
            self.target.parent.rmdir()
