"""Why `cde lake ls|verify|crosscheck` found nothing: a missing lake, a misspelt filter, or an empty tree.

Each case is an error that says where the command looked, the nearest names the downloaded trees
hold, and how to point the command at another lake, instead of an empty table with exit code 0.
"""

from __future__ import annotations

from cde_core.errors import NotFoundError
from cde_core.lake import Lake
from cde_core.lake_names import POINT_ELSEWHERE, absent_lake, level_values, missing_name
from cde_exchanges.lake.inventory import TREES


def downloaded_names(lake: Lake, key: str) -> set[str]:
    """Every value of ``key`` (exchange, market, interval, symbol) in any downloaded tree."""
    return set().union(*(level_values(lake.root / spec.name, spec.levels, key) for spec in TREES))


def check_filters(lake: Lake, **filters: str | list[str] | None) -> None:
    """Raise when the lake is missing or a filter value (or any of a list) is in no downloaded tree."""
    absent = absent_lake(lake.root)
    if absent is not None:
        raise absent
    for key, value in filters.items():
        for one in [value] if isinstance(value, str) else (value or []):
            known = downloaded_names(lake, key)
            if one not in known:
                raise missing_name(key, one, known, str(lake.root))


def nothing_found(lake: Lake, **filters: str | None) -> NotFoundError:
    """The error for a command that found no downloaded partition matching ``filters`` (key → value)."""
    check_filters(lake, **filters)
    given = ", ".join(f"{k}={v}" for k, v in filters.items() if v is not None)
    return NotFoundError(f"no downloaded data in the lake {lake.root}" + (f" for {given}" if given else ""),
                         hint=f"download some with `cde download …`, or {POINT_ELSEWHERE}")
