"""A trade partition written now and published later: what makes an import all-or-nothing.

``cde import`` reads every file before any day becomes visible, so a bad line in the last file leaves
the lake exactly as it was. Each day is streamed to its hidden temporary file as for a download
(:class:`~cde_exchanges.extraction.partition_writer.TradePartitionWriter`), sealed with its provenance when the
day ends (so only one day's rows are ever pending in memory), and committed (renamed into place, or
uploaded and copied to its key in a bucket) only when the whole import succeeded.
"""

from __future__ import annotations

import contextlib

from cde_core.lake import Provenance
from cde_exchanges.extraction.partition_writer import TradePartitionWriter


class StagedTradePartition(TradePartitionWriter):
    def seal(self, provenance: Provenance) -> None:
        """Finish the temporary file with its provenance; the partition stays invisible."""
        self.close_file(provenance)

    def discard(self) -> None:
        """Remove the temporary file, and the day's folder when this import created it empty."""
        self.abort()
        with contextlib.suppress(OSError):
            self.target.parent.rmdir()
