"""Nearest valid names for a misspelt one, so every "unknown X" error can say what was meant.

difflib's ratio on case-folded names: ``btcusdt`` finds ``BTCUSDT``, ``rsi_99`` finds ``rsi_14``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

_LISTED = 12


def nearest(name: str, candidates: Iterable[str], *, n: int = 3, cutoff: float = 0.6) -> list[str]:
    """Up to ``n`` candidates closest to ``name`` (best first), ignoring case."""
    by_folded: dict[str, str] = {}
    for candidate in candidates:
        by_folded.setdefault(str(candidate).casefold(), str(candidate))
    hits = difflib.get_close_matches(name.casefold(), list(by_folded), n=n, cutoff=cutoff)
    return [by_folded[h] for h in hits]


def did_you_mean(name: str, candidates: Iterable[str], *, what: str = "names") -> str:
    """A hint: the close matches of ``name``, else the first of the valid ``what`` (or that there are none)."""
    pool = sorted({str(c) for c in candidates})
    close = nearest(name, pool)
    if close:
        return "did you mean " + " or ".join(close) + "?"
    if not pool:
        return f"there are no {what}"
    more = f" … ({len(pool)} in all)" if len(pool) > _LISTED else ""
    return f"{what}: {', '.join(pool[:_LISTED])}{more}"
