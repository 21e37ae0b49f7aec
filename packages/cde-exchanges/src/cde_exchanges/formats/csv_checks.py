"""Checks of parsed CSV pieces that name the archive file and the line: parse errors, empty fields and
values outside their rule (a price that is not a positive finite number, a negative quantity …).

Why here and not after the rows became canonical trades: only the CSV layer knows where each piece
starts in the file, so only it can say "line 1,234,567". The checks are vectorised (a ``min`` and a
``sum`` per checked column and piece, on numpy views of the Arrow buffers: NaN and ±inf make the sum
non-finite); the line of the first bad row is looked up only when there is one, so a clean file pays
two passes over each checked column and nothing per row (~20 µs per 1 MiB piece).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa

from cde_core.arrow_views import numpy_view
from cde_core.errors import DataError

#: what a numeric column's values must be: ``positive`` (> 0, finite: prices), ``non_negative`` (>= 0,
#: finite: quantities, notionals, volumes) or ``finite`` (funding rates may be negative)
ValueRule = Literal["positive", "non_negative", "finite"]
RULE_TEXT: dict[str, str] = {"positive": "a positive finite number", "non_negative": "a finite number >= 0",
                             "finite": "a finite number"}
BAD_FILE_HINT = "the archive file is malformed; report it to the exchange, or delete it and download again"
#: epoch integers at or above this are microseconds (µs ≈ 1.7e15 today, ms ≈ 1.7e12)
MICROS_THRESHOLD = 10**14
#: epoch integers below this are seconds, not ms (as ms they would all fall before March 1973)
SECONDS_THRESHOLD = 10**11
#: epoch integers at or above this are not µs either (as µs: after the year 5138); nanoseconds today are ≈ 1.7e18
NANOS_THRESHOLD = 10**17


@dataclass(frozen=True)
class PiecePlace:
    """Where one parsed piece sits in its file: the file's name, the 1-based line number of the piece's
    first line, its bytes (to find a line exactly on the error path) and the header lines skipped."""

    where: str
    first_line: int
    piece: memoryview | bytes
    skip: int

    def _lines(self) -> list[bytes]:
        lines = bytes(self.piece).split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        return lines

    def line_of_row(self, row: int) -> int:
        """The file line of parsed row ``row`` (0-based) of this piece; blank lines, which the parser
        skips, are counted as the file has them."""
        data_rows = 0
        for index, line in enumerate(self._lines()):
            if index < self.skip or not line.strip(b"\r"):
                continue
            if data_rows == row:
                return self.first_line + index
            data_rows += 1
        return self.first_line + self.skip + row

    def parse_error(self, exc: Exception, parse: Callable[[bytes], object]) -> DataError:
        """A parse error of this piece as a one-line error naming the file line: the first line whose
        inclusion makes ``parse`` fail, found by bisecting the piece's lines (error path only)."""
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        lines = self._lines()

        def fails(count: int) -> bool:
            try:
                parse(b"\n".join(lines[:count]) + b"\n")
            except (pa.ArrowInvalid, ValueError):
                return True
            return False

        lo, hi = self.skip, len(lines)  # the smallest prefix length that fails lies in (lo, hi]
        if hi <= lo or not fails(hi):
            return DataError(f"lines {self.first_line}-{self.first_line + max(len(lines) - 1, 0)}: {message}",
                             where=self.where, hint=BAD_FILE_HINT)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if fails(mid):
                hi = mid
            else:
                lo = mid
        text = lines[hi - 1][:80].decode("utf-8", errors="replace")
        return DataError(f"line {self.first_line + hi - 1}: {message} (line: '{text}')", where=self.where,
                         hint=BAD_FILE_HINT)


def check_batch(batch: pa.RecordBatch, rules: dict[str, ValueRule], place: PiecePlace, row_offset: int) -> None:
    """Raise a :class:`DataError` naming the file line of the first empty field, or of the first value
    breaking its column's rule, in ``batch`` (rows ``row_offset`` … of the piece at ``place``)."""
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if column.null_count:
            row = int(np.flatnonzero(~numpy_bool(column.is_valid()))[0])
            line = place.line_of_row(row_offset + row)
            raise DataError(f"line {line}: empty value (or NaN) in column '{name}' "
                            f"({column.null_count} such row(s) in this piece)", where=place.where,
                            hint=BAD_FILE_HINT)
    for name, rule in rules.items():
        if name not in batch.schema.names or batch.num_rows == 0:
            continue
        values = numpy_view(batch.column(name))
        low = values.min()
        if (low > 0 or (low == 0 and rule == "non_negative") or rule == "finite") and np.isfinite(values.sum()):
            continue  # the usual case; a finite sum of huge values that overflows is sorted out below
        bad = np.flatnonzero(~satisfies(values.astype(np.float64, copy=False), rule))
        if len(bad) == 0:
            continue
        row = int(bad[0])
        line = place.line_of_row(row_offset + row)
        raise DataError(f"line {line}: {name} is {values[row].item()!r}, not {RULE_TEXT[rule]}", where=place.where,
                        hint=BAD_FILE_HINT)


class EpochUnits:
    """Holds each epoch column of one file to one unit, ms or µs (the first row decides), and refuses
    seconds and nanoseconds (or anything else no ms or µs clock gives), naming the line of the first row
    that breaks it (the decoder then trusts the unit)."""

    def __init__(self, columns: tuple[str, ...]) -> None:
        self.columns = columns
        self.micros: dict[str, bool] = {}

    def check(self, batch: pa.RecordBatch, place: PiecePlace, row_offset: int) -> None:
        for name in self.columns:
            if name not in batch.schema.names or batch.num_rows == 0:
                continue
            values = numpy_view(batch.column(name))
            low, high = int(values.min()), int(values.max())
            micros = self.micros.setdefault(name, int(values[0]) >= MICROS_THRESHOLD)
            if (low >= SECONDS_THRESHOLD and high < NANOS_THRESHOLD
                    and (low >= MICROS_THRESHOLD) == micros == (high >= MICROS_THRESHOLD)):
                continue
            wrong = (values < SECONDS_THRESHOLD) | (values >= NANOS_THRESHOLD)
            if wrong.any():
                row = int(np.flatnonzero(wrong)[0])
                value = int(values[row])
                what = ("looks like nanoseconds" if value >= NANOS_THRESHOLD else "looks like seconds" if value >= 0
                        else "is negative")
                raise DataError(f"line {place.line_of_row(row_offset + row)}: {name} {value} {what}, not "
                                "milliseconds or microseconds", where=place.where,
                                hint="the file's time unit changed; report it (it cannot be placed in days)")
            row = int(np.flatnonzero((values >= MICROS_THRESHOLD) != micros)[0])
            unit, before = ("µs", "ms") if not micros else ("ms", "µs")
            raise DataError(f"line {place.line_of_row(row_offset + row)}: timestamps mix milliseconds and "
                            f"microseconds: {name} {int(values[row])} is in {unit}, the rows before it in {before}",
                            where=place.where,
                            hint="report the file; it cannot be read unambiguously")


def numpy_bool(mask: pa.Array) -> np.ndarray:
    return np.asarray(mask.to_pylist(), dtype=bool)


def satisfies(values: np.ndarray, rule: ValueRule) -> np.ndarray:
    """Which ``values`` satisfy ``rule`` (NaN satisfies none)."""
    if rule == "positive":
        return (values > 0) & (values < np.inf)
    if rule == "non_negative":
        return (values >= 0) & (values < np.inf)
    return np.isfinite(values)
