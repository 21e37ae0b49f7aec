"""The one check a visual route applies to a name that becomes a lake path (spec, symbol, run id).

Kept to a single function so the routes switch to cde-core's central path guard in one place.
"""

from __future__ import annotations

from cde_core.lake import safe_value


def lake_name(value: str, *, what: str) -> str:
    """``value`` if it is a safe lake partition value; a :class:`~cde_core.errors.DataError` (422) otherwise."""
    return safe_value(value, what=what)
