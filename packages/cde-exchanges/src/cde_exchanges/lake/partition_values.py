"""The value rules of a committed partition's rows, for ``cde lake verify``: the same rules a download
holds each archive row to (:mod:`cde_exchanges.formats.csv_checks`, :mod:`cde_exchanges.formats.row_checks`),
on the lake's column names.

Why verify needs them: its other checks compare a partition with its own provenance (rows, ids, times),
which a partition rewritten by another tool, or by a cde before these rules, satisfies with a negative
price, a NaN quantity, a candle whose low is above its high or two candles for one minute. Those are
exactly what every reader (bars, features, ``cde lake crosscheck``) would take as data.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from cde_core.arrow_views import numpy_view
from cde_exchanges.formats.csv_checks import RULE_TEXT, ValueRule, satisfies
from cde_exchanges.formats.kline_intervals import INTERVAL_US
from cde_exchanges.formats.row_checks import kline_row_check
from cde_exchanges.lake.targets import TreeSpec

_TRADE_RULES: dict[str, ValueRule] = {"price": "positive", "qty": "non_negative", "quote_qty": "non_negative"}
_KLINE_RULES: dict[str, ValueRule] = {
    **dict.fromkeys(("open", "high", "low", "close"), "positive"),
    **dict.fromkeys(("volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume", "count"), "non_negative")}
_FUNDING_RULES: dict[str, ValueRule] = {"funding_interval_hours": "positive", "funding_rate": "finite"}


class PartitionValues:
    """Checks one partition's row groups in turn; :meth:`problem` says what is wrong with the first bad
    row (``row N`` of the partition, 1-based), or None."""

    def __init__(self, tree: TreeSpec, interval: str | None) -> None:
        self.tree = tree
        self.rules = (_TRADE_RULES if tree.has_trade_ids else _KLINE_RULES if tree.name == "klines"
                      else _FUNDING_RULES)
        self.kline_check = (kline_row_check(interval, INTERVAL_US[interval])
                            if tree.name == "klines" and interval in INTERVAL_US else None)
        #: klines and funding hold one row per time: their times, to find a repeated one at the end
        self.times: list[np.ndarray] = []
        self.rows = 0

    def add(self, group: pa.Table) -> str | None:
        """The problem of the first bad row of ``group`` (the next row group), or None. The lake schemas'
        columns are not nullable (verify checks the schema first), so every value is there."""
        offset = self.rows
        self.rows += group.num_rows
        for batch in group.to_batches():
            for name, rule in self.rules.items():
                values = numpy_view(batch.column(name))
                bad = np.flatnonzero(~satisfies(values.astype(np.float64, copy=False), rule))
                if len(bad):
                    row = int(bad[0])
                    return f"row {offset + row + 1}: {name} is {values[row].item()!r}, not {RULE_TEXT[rule]}"
            if self.kline_check is not None and (found := self.kline_check(batch)) is not None:
                return f"row {offset + found[0] + 1}: {found[1]}"
            if not self.tree.has_trade_ids:
                self.times.append(numpy_view(batch.column(self.tree.time_column)).copy())
            offset += batch.num_rows
        return None

    def repeated(self) -> str | None:
        """Klines and funding: the first time that occurs twice in the partition, or None."""
        if not self.times:
            return None
        times = np.concatenate(self.times)
        unique, counts = np.unique(times, return_counts=True)
        if (counts > 1).any():
            when = np.datetime64(int(unique[np.argmax(counts > 1)]), "us").astype(str)
            return (f"{self.tree.time_column} {when}Z appears {int(counts.max())} times: a {self.tree.name} "
                    f"partition holds one row per {self.tree.time_column}")
        return None
