"""What a feature computation could not give, said next to its "wrote N rows" line.

A range reaching past the bars, a symbol without bars in the range, or a column whose lookback is
longer than the bars (NaN on every row) all write a spec that looks complete; a strategy reading it
then never selects those symbols or ranks on nothing. Each is one sentence in ``ComputeResult.notices``
(the CLI prints them as ``notice:`` lines; REST returns them in the task result).
"""

from __future__ import annotations

from datetime import date

import pandas as pd

_LISTED = 10


def _listed(items: list[str]) -> str:
    more = f" and {len(items) - _LISTED} more" if len(items) > _LISTED else ""
    return ", ".join(items[:_LISTED]) + more


def compute_notices(panel: pd.DataFrame, features: pd.DataFrame, start: date | None, end: date | None) -> list[str]:
    """``panel``: the bars read (all history up to ``end``); ``features``: the rows kept in [start, end]."""
    notices = []
    ts = features.index.get_level_values(0)
    first, last = ts.min(), ts.max()
    if start is not None and first.date() > start:
        notices.append(f"the bars in the range start on {first:%Y-%m-%d}, after --start {start}: "
                       "no features before that day")
    if end is not None and last.date() < end:
        notices.append(f"the bars in the range end on {last:%Y-%m-%d}, before --end {end}: "
                       "no features after that day")
    asked = sorted({str(s) for s in panel.index.get_level_values(1)})
    got = {str(s) for s in features.index.get_level_values(1)}
    absent = [s for s in asked if s not in got]
    if absent:
        notices.append(f"{len(absent)} of {len(asked)} symbols have no bars in the range and no features: "
                       f"{_listed(absent)}")
    empty = [str(c) for c in features.columns if features[c].isna().all()]
    if empty:
        notices.append(f"{len(empty)} of {len(features.columns)} columns are NaN on every row of the range "
                       f"(a lookback longer than the bars there, or inputs the bars lack): {_listed(empty)}")
    return notices
