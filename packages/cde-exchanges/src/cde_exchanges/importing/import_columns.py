"""Which column of a user's file plays which role (``--columns ts=time,price=p,...``), for ``cde import``.

A role the user does not map is looked up by its own name (case-insensitive); a required role that is
still missing is an error listing the file's columns and the nearest names, so nothing is guessed. Nor
is a choice between two columns: a role that two columns could play (``price`` and ``PRICE``), or a
column whose name the file uses twice, is an error naming both.
"""

from __future__ import annotations

import difflib
from typing import Literal

from cde_core.errors import ConfigError, DataError

#: how a role's values are read: numbers, integers, booleans, text, or a timestamp in any form
ValueKind = Literal["float", "int", "bool", "string", "time"]


def parse_column_map(raw: str | None) -> dict[str, str]:
    """``"ts=time,price=p"`` → ``{"ts": "time", "price": "p"}`` (file column names may contain spaces)."""
    mapping: dict[str, str] = {}
    for pair in (raw or "").split(","):
        if not pair.strip():
            continue
        role, sep, column = pair.partition("=")
        if not sep or not role.strip() or not column.strip():
            raise ConfigError(f"--columns entry '{pair.strip()}' is not role=column",
                              where="--columns", hint="e.g. --columns ts=time,price=Price,qty=Volume")
        mapping[role.strip()] = column.strip()
    return mapping


def resolve_columns(header: list[str], roles: dict[str, ValueKind], required: set[str],
                    mapping: dict[str, str], *, where: str) -> dict[str, str]:
    """Role → file column for every role found; raise naming what is missing and what the file has."""
    unknown = sorted(set(mapping) - set(roles))
    if unknown:
        near = difflib.get_close_matches(unknown[0], list(roles), n=3)
        raise ConfigError(f"--columns names unknown role '{unknown[0]}'", where="--columns",
                          hint=f"did you mean {', '.join(near)}?" if near else f"roles: {', '.join(roles)}")
    found: dict[str, str] = {}
    for role in roles:
        wanted = mapping.get(role)
        if wanted is not None:
            if wanted not in header:
                near = difflib.get_close_matches(wanted, header, n=3)
                raise DataError(f"line 1: no column '{wanted}' (mapped to {role})", where=where,
                                hint=(f"did you mean {', '.join(repr(n) for n in near)}? " if near else "")
                                + f"the file's columns: {', '.join(header)}")
            found[role] = wanted
        else:
            candidates = [name for name in header if name.lower() == role.lower()]
            if len(set(candidates)) > 1:
                raise DataError(f"line 1: columns {' and '.join(repr(n) for n in dict.fromkeys(candidates))} "
                                f"could each be {role}", where=where,
                                hint=f"say which with --columns {role}=<column>")
            if candidates:
                found[role] = candidates[0]
    for role, column in found.items():
        positions = [i + 1 for i, name in enumerate(header) if name == column]
        if len(positions) > 1:
            raise DataError(f"line 1: column '{column}' ({role}) appears {len(positions)} times (columns "
                            f"{', '.join(map(str, positions))}): which one is meant cannot be told", where=where,
                            hint="rename the columns so that each name is used once, and import again")
    missing = [role for role in roles if role in required and role not in found]
    if missing:
        raise DataError(f"line 1: no column for {', '.join(missing)}", where=where,
                        hint=f"map them with --columns {','.join(f'{r}=<column>' for r in missing)}; "
                             f"the file's columns: {', '.join(header)}")
    return found
