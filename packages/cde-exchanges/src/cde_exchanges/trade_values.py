"""The value rules every canonical trade obeys, checked on each batch whatever adapter made it.

A price is a positive finite number; ``qty`` and ``quote_qty`` are finite and >= 0 (exchanges do print
zero quantities: they are kept and counted, ``zero_qty`` in the day's validation). The built-in CSV
readers already check the file's own columns and name the line (:mod:`cde_exchanges.csv_checks`); this
catches what they cannot see: values an adapter derives (a notional that overflows) and adapters of
third parties. Vectorised: a ``min`` and a ``sum`` per column (NaN and ±inf make the sum non-finite),
and the first bad row is looked for only when there is one.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from cde_core.arrow_views import numpy_view
from cde_core.errors import DataError

#: canonical column index → (name, whether zero is allowed)
_RULES: tuple[tuple[int, str, bool], ...] = ((2, "price", False), (3, "qty", True), (4, "quote_qty", True))


def check_trade_values(batch: pa.RecordBatch, *, where: str, first_row: int) -> bool:
    """Raise a :class:`DataError` naming ``where`` and the row (1-based, of the file: ``first_row`` rows
    came before ``batch``) of the first value breaking its rule; return whether any ``qty`` is zero."""
    zero_qty = False
    if batch.num_rows == 0:
        return zero_qty
    for index, name, zero_ok in _RULES:
        values = numpy_view(batch.column(index))
        low = values.min()
        if (low > 0 or (zero_ok and low == 0)) and np.isfinite(values.sum()):
            zero_qty = zero_qty or (name == "qty" and low == 0)
            continue
        ok = ((values >= 0) if zero_ok else (values > 0)) & (values < np.inf)
        bad = np.flatnonzero(~ok)
        if len(bad):
            row = int(bad[0])
            rule = "a finite number >= 0" if zero_ok else "a positive finite number"
            raise DataError(f"row {first_row + row + 1} of the file: {name} is {float(values[row])!r}, not {rule}",
                            where=where, hint="the file is malformed; report it to the exchange")
        zero_qty = zero_qty or (name == "qty" and low == 0)
    return zero_qty
