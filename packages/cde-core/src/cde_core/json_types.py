"""Field types for request models that accept exactly what their JSON schema says.

FastAPI validates a decoded JSON body in pydantic's lax Python mode, which takes ``0`` or ``"0"`` for
a date (1970-01-01) and ``false`` or ``"3"`` for an int, while the OpenAPI schema promises a string
in date format and a JSON integer; clients and fuzzers (schemathesis) hold the API to the schema.
pydantic's strict mode does not fit either: in Python mode it refuses the ISO strings JSON carries.
These types keep the lax parsing of the right JSON type and refuse the wrong types. Use
``pydantic.StrictBool`` / ``StrictStr`` / ``StrictFloat`` for the other scalars.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _json_integer(value: Any) -> Any:
    # JSON Schema's integer takes 3 and 3.0, so StrictInt (which refuses 3.0) would be too strict
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON integer")
    return value


def _json_date(value: Any) -> Any:
    if isinstance(value, date):  # Python callers (CLI, notebooks) pass dates
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("must be a date string, YYYY-MM-DD")
    return value


def _json_datetime(value: Any) -> Any:
    if not isinstance(value, str | datetime):
        raise ValueError("must be an ISO 8601 date-time string")
    return value


#: an int that refuses ``true`` and ``"3"``
JsonInt = Annotated[int, BeforeValidator(_json_integer)]
#: a date given as ``YYYY-MM-DD`` (or a ``date`` from Python); refuses numbers and other strings
JsonDate = Annotated[date, BeforeValidator(_json_date)]
#: a datetime given as an ISO 8601 string (or a ``datetime`` from Python); refuses numbers
JsonDateTime = Annotated[datetime, BeforeValidator(_json_datetime)]


def bounded_json_int(*, ge: int | None = None, le: int | None = None) -> Any:
    """A :data:`JsonInt` with bounds, for a type inside a list or a map (``list[bounded_json_int(ge=1)]``).

    ``Annotated[JsonInt, Field(ge=1)]`` validates the bound but writes pydantic's own keyword into the
    JSON schema (``{"ge": 1}``, which JSON Schema ignores) instead of ``minimum``: clients and fuzzers
    are then told any integer is fine. With the bounds before the type check they render right. (On a
    model field, ``x: JsonInt = Field(ge=1)`` renders right already.)"""
    return Annotated[int, Field(ge=ge, le=le), BeforeValidator(_json_integer)]
