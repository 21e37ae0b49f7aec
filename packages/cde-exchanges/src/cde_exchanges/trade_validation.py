"""Streaming checks of a trade stream: ordering, duplicates and trade-id gaps, attributed to days.

Nothing is dropped or reordered: the findings go into each partition's provenance (``extra.validation``)
and the download summary. The stream carries the previous row across batches, files and day
boundaries, so a gap between the last trade of one day and the first of the next is found too (it is
counted on the later day). Duplicates are found exactly with a per-day bitmap over the id range
(1 bit per id, blocks of 2^20 ids), so memory stays bounded; beyond :data:`MAX_BLOCKS` blocks the
duplicate check is skipped and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

BLOCK_BITS = 20
MAX_BLOCKS = 64
MAX_EXAMPLES = 5


@dataclass
class DayFindings:
    rows: int = 0
    gaps: int = 0
    missing_ids: int = 0
    duplicates: int = 0
    non_monotonic_ids: int = 0
    non_monotonic_ts: int = 0
    duplicates_checked: bool = True
    gap_examples: list[tuple[int, int]] = field(default_factory=list)
    min_id: int | None = None
    max_id: int | None = None
    min_ts: int | None = None
    max_ts: int | None = None
    _seen: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "gaps": self.gaps, "missing_ids": self.missing_ids,
                "duplicates": self.duplicates, "duplicates_checked": self.duplicates_checked,
                "non_monotonic_ids": self.non_monotonic_ids, "non_monotonic_ts": self.non_monotonic_ts,
                "gap_examples": [list(g) for g in self.gap_examples]}


class TradeStreamValidator:
    """Feed consecutive segments (all rows of one segment on one day) in stream order."""

    def __init__(self, prev_id: int | None = None, prev_ts: int | None = None) -> None:
        self.prev_id = prev_id
        self.prev_ts = prev_ts
        self.days: dict[int, DayFindings] = {}

    def observe(self, day: int, ids: np.ndarray, ts: np.ndarray) -> None:
        if len(ids) == 0:
            return
        f = self.days.setdefault(day, DayFindings())
        f.rows += len(ids)
        prev_ids = np.concatenate(([ids[0] if self.prev_id is None else self.prev_id], ids[:-1]))
        id_step = ids - prev_ids
        if self.prev_id is None:
            id_step[0] = 1
        prev_ts = np.concatenate(([ts[0] if self.prev_ts is None else self.prev_ts], ts[:-1]))
        f.non_monotonic_ts += int(np.count_nonzero(ts < prev_ts))
        f.non_monotonic_ids += int(np.count_nonzero(id_step < 0))
        gap_at = np.flatnonzero(id_step > 1)
        if len(gap_at):
            f.gaps += len(gap_at)
            f.missing_ids += int((id_step[gap_at] - 1).sum())
            for i in gap_at[: MAX_EXAMPLES - len(f.gap_examples)]:
                f.gap_examples.append((int(prev_ids[i]), int(ids[i])))
        # the usual stream is strictly increasing: its ids are distinct and sorted, so no sort is needed
        self._count_duplicates(f, ids, increasing=bool(np.all(id_step[1:] > 0)))
        lo, hi = int(ids.min()), int(ids.max())
        f.min_id = lo if f.min_id is None else min(f.min_id, lo)
        f.max_id = hi if f.max_id is None else max(f.max_id, hi)
        tlo, thi = int(ts.min()), int(ts.max())
        f.min_ts = tlo if f.min_ts is None else min(f.min_ts, tlo)
        f.max_ts = thi if f.max_ts is None else max(f.max_ts, thi)
        self.prev_id, self.prev_ts = int(ids[-1]), int(ts[-1])

    @staticmethod
    def _count_duplicates(f: DayFindings, ids: np.ndarray, *, increasing: bool) -> None:
        """Count ids already seen this day (or repeated within ``ids``) and mark them seen.

        ``increasing`` (ids strictly increasing) skips the sort of ``np.unique``: the ids of each bitmap
        block are then one contiguous, duplicate-free slice, found with a diff instead of a mask.
        """
        if not f.duplicates_checked:
            return
        blocks = ids >> BLOCK_BITS
        if increasing:
            starts = np.flatnonzero(np.diff(blocks)) + 1
            slices = zip(np.concatenate(([0], starts)).tolist(), np.concatenate((starts, [len(ids)])).tolist(),
                         strict=True)
            groups = [(int(blocks[a]), ids[a:b]) for a, b in slices]
        else:
            groups = [(int(block), ids[blocks == block]) for block in np.unique(blocks)]
        mask = (1 << BLOCK_BITS) - 1
        for block, members in groups:
            if block not in f._seen:
                if len(f._seen) >= MAX_BLOCKS:
                    f.duplicates_checked = False
                    f._seen.clear()
                    return
                f._seen[block] = np.zeros(1 << BLOCK_BITS, dtype=bool)
            seen = f._seen[block]
            offsets = members & mask
            if increasing:
                f.duplicates += int(np.count_nonzero(seen[offsets]))
            else:
                offsets, counts = np.unique(offsets, return_counts=True)
                f.duplicates += int((counts - 1).sum()) + int(np.count_nonzero(seen[offsets]))
            seen[offsets] = True

    def findings(self, day: int) -> DayFindings:
        return self.days.get(day, DayFindings())
