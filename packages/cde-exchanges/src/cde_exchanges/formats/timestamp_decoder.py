"""Decide once per file whether its epoch integers are ms or µs, and hold every batch to it."""

from __future__ import annotations

import pyarrow as pa

from cde_core.errors import DataError
from cde_exchanges.formats.csv_formats import detect_unit, epoch_to_ts


class TimestampDecoder:
    """Stateful ms/µs decoder: the first non-empty batch fixes the unit, later batches must agree."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.unit: str | None = None

    def decode(self, values: pa.Array) -> pa.Array:
        if len(values) == 0:
            return epoch_to_ts(values, self.unit or "ms")
        unit = detect_unit(values, where=self.where)
        if self.unit is None:
            self.unit = unit
        elif unit != self.unit:
            raise DataError(f"timestamps switch from {self.unit} to {unit} inside one file", where=self.where,
                            hint="report the file; it cannot be read unambiguously")
        return epoch_to_ts(values, unit)
