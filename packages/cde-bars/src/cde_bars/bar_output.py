"""Where a stream's closed bars are written: one preallocated block, handed out as Arrow slices.

Building an Arrow table per ``update()`` call (a view per column plus the table, ~15 pyarrow objects)
was the largest fixed cost of a call on the lake reader's 2^17-trade batches. Instead each stream
owns a block of ``BLOCK_BARS`` rows (:class:`~cde_bars.assemble.BarBlock`) viewed once as an Arrow
table; :func:`cde_bars.kernels.finish.finish_call` appends the closed bars to it and a call returns
one zero-copy ``Table.slice`` of what it appended. Rows are only ever appended, never rewritten, so a
slice handed out earlier never changes; a full block is left to the slices that still use it and a
new one is started. The kernels' scratch outputs live here too, reused from call to call.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from cde_bars.assemble import BarBlock, to_table
from cde_bars.kernels.layout import N_OUT_FLOAT

#: rows per output block: large enough that its table view (~20 µs) is paid every few hundred calls,
#: small enough (~0.5 MB) that the unused tail of the last block costs little memory
BLOCK_BARS = 4096


class BarOutput:
    """A stream's output block and the kernels' scratch arrays."""

    def __init__(self, schema: pa.Schema, first_capacity: int, max_capacity: int) -> None:
        self.schema, self.max_capacity = schema, max_capacity
        self.block: BarBlock | None = None
        self.view: pa.Table | None = None   # the whole block as Arrow columns
        self.used = 0                       # rows of the block written
        self.given = 0                      # rows of the block already returned
        self.earlier: list[pa.Table] = []   # rows of filled blocks not yet returned
        self._scratch(first_capacity)

    def _scratch(self, capacity: int) -> None:
        self.capacity = capacity
        self.out_f = np.empty((N_OUT_FLOAT, capacity))
        self.ends = np.empty(capacity, dtype=np.int64)
        self.counts = np.empty(capacity, dtype=np.int64)
        self.periods = np.empty(capacity, dtype=np.int64)

    def grow_scratch(self) -> None:
        """A kernel call filled the scratch output: the next call may close 4× as many bars."""
        if self.capacity < self.max_capacity:
            self._scratch(min(self.capacity * 4, self.max_capacity))

    def room(self, k: int) -> BarBlock:
        """The block to write ``k`` more bars into, at row :attr:`used` (a new one when full)."""
        block = self.block
        if block is None or self.used + k > block.floats.shape[1]:
            if self.view is not None and self.used > self.given:
                self.earlier.append(self.view.slice(self.given, self.used - self.given))
            block = BarBlock.empty(max(BLOCK_BARS, k))
            self.block, self.view = block, to_table([block], self.schema)
            self.used = self.given = 0
        return block

    def take(self) -> pa.Table:
        """The bars written since the last ``take``, as one Arrow table (zero-copy when they fit in
        one block)."""
        if self.view is None:
            return to_table([], self.schema)
        piece = self.view.slice(self.given, self.used - self.given)
        self.given = self.used
        if self.earlier:
            pieces, self.earlier = [*self.earlier, piece], []
            return pa.concat_tables(pieces).combine_chunks()
        return piece
