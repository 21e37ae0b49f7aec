"""What part of the asked-for data the lake actually holds, said as run notices.

A range that runs past the lake's last bar, a symbol listed late, or a feature set computed for 3 of
12 symbols all load without error, and a strategy then never selects the symbols whose feature columns
are NaN: the run's numbers silently describe less than was asked for. Each such gap is one sentence in
the run's notices (CLI ``notice:`` lines, config.yaml, the report's warning box).
"""

from __future__ import annotations

import pandas as pd

_SLACK = pd.Timedelta(days=1)  # less than a day short is bar alignment, not missing data
_LISTED = 10


def _day(moment: pd.Timestamp) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


def _listed(items: list[str]) -> str:
    more = f" and {len(items) - _LISTED} more" if len(items) > _LISTED else ""
    return "; ".join(items[:_LISTED]) + more


def coverage_notices(bars: pd.DataFrame, features: pd.DataFrame | None, feature_set: str | None,
                     start: pd.Timestamp | None, end: pd.Timestamp | None) -> list[str]:
    """One sentence per gap between the request (UTC ``start`` inclusive, ``end`` exclusive) and the
    loaded bars / features (empty when none)."""
    notices = []
    ts = bars.index.get_level_values("ts")
    first, last = ts.min(), ts.max()
    if start is not None and first - start > _SLACK:
        notices.append(f"the bars start at {_day(first)} UTC, after the requested start {_day(start)}: "
                       "the lake holds nothing earlier, the metrics cover the shorter period")
    if end is not None and end - last > _SLACK:
        notices.append(f"the bars end at {_day(last)} UTC, before the requested end {_day(end)} (exclusive): "
                       "the lake holds nothing later, the metrics cover the shorter period")
    by_symbol = ts.to_series(index=bars.index.get_level_values("symbol")).groupby(level=0)
    spans = by_symbol.agg(["min", "max", "size"])
    partial = [f"{s} {_day(row['min'])} … {_day(row['max'])}" for s, row in spans.iterrows()
               if row["min"] - first > _SLACK or last - row["max"] > _SLACK]
    if partial:
        notices.append(f"bars of {len(partial)} of {len(spans)} symbols cover only part of the run "
                       f"{_day(first)} … {_day(last)}: {_listed(partial)}")
    if features is not None and feature_set:
        rows = features.index.get_level_values("symbol").value_counts()
        absent = [s for s in spans.index if rows.get(s, 0) == 0]
        if absent:
            notices.append(f"feature set {feature_set} has no rows for {len(absent)} of {len(spans)} symbols "
                           f"({_listed(absent)}): their feature columns are NaN, so no strategy reading them "
                           "selects these symbols; compute the features for them (`cde features compute`)")
        short = [f"{s} {rows[s]} of {spans.loc[s, 'size']}" for s in spans.index
                 if 0 < rows.get(s, 0) < spans.loc[s, "size"]]
        if short:
            notices.append(f"feature set {feature_set} covers fewer bars than the bars spec for "
                           f"{len(short)} symbol(s) (feature rows of bars): {_listed(short)}; their feature "
                           "columns are NaN on the rest")
    return notices
