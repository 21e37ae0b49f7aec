"""A new exchange, market or symbol that is one slip away from one the lake holds is refused.

``cde import`` writes wherever it is told: a vendor's exchange (``cme``) or symbol (``ES``) is new by
design. But ``--symbol BTCUSTD`` beside ``BTCUSDT`` would start a second series that bars, features and
backtests read as another instrument, and nothing downstream would notice. So a name the lake does not
hold at its level, and that is close to one it does (same letters in another case, two neighbouring
letters swapped, or difflib's ratio ≥ 0.8: a letter dropped or changed in a longer name), is an error
naming the near names; ``--new-name`` says the new name is meant (``SOLUSDC`` beside ``SOLUSDT``).
"""

from __future__ import annotations

from cde_core.errors import DataError
from cde_core.lake import Lake
from cde_core.lake_names import level_values
from cde_core.suggest import nearest

#: difflib ratio from which a new name counts as a slip of an existing one
NEAR = 0.8
LEVELS = ("exchange", "market", "symbol")


def check_new_names(lake: Lake, tree: str, exchange: str, market: str, symbol: str) -> None:
    """Raise when the first of ``exchange``, ``market``, ``symbol`` that ``tree`` lacks (under the levels
    above it) is near a name that ``tree`` holds there."""
    base = lake.root / tree
    values = {"exchange": exchange, "market": market, "symbol": symbol}
    for index, level in enumerate(LEVELS):
        held = level_values(base, (level,), level)
        value = values[level]
        if value in held:
            base = base / f"{level}={value}"
            continue
        close = [name for name in sorted(held) if _swapped(value, name)] or nearest(value, held, cutoff=NEAR)
        if close:
            where = "/".join([tree, *(f"{lv}={values[lv]}" for lv in LEVELS[:index])])
            raise DataError(f"{level} '{value}' is not in the lake, but {' or '.join(close)} is: a typo?",
                            where=where,
                            hint=f"use --{level} {close[0]}; if '{value}' is meant as a new {level}, add --new-name")
        return


def _swapped(a: str, b: str) -> bool:
    """``a`` is ``b`` with two neighbouring letters swapped (``spto``, ``BTCUSTD``), whatever the case:
    the slip difflib's ratio misses in short names."""
    a, b = a.casefold(), b.casefold()
    if len(a) != len(b) or a == b:
        return False
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]

