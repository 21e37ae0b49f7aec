"""What API requests may carry: SAFE_VALUE_PATTERN says exactly what safe_value accepts, and the
JSON field types accept exactly the JSON types their schema names."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, StringConstraints, TypeAdapter, ValidationError

from cde_core.errors import DataError
from cde_core.json_types import JsonDate, JsonDateTime, JsonInt
from cde_core.lake import SAFE_VALUE_PATTERN, safe_value

#: the pattern as FastAPI enforces it on a Path/Query parameter (pydantic's Rust regex)
_SCHEMA_VALUE = TypeAdapter(Annotated[str, StringConstraints(pattern=SAFE_VALUE_PATTERN)])
#: short strings over the characters that matter (dots, separators, whitespace, non-ASCII) and any text
_NAMES = st.text(alphabet=st.sampled_from("aZ09._-/\\\n\r\t %é\x00"), max_size=8) | st.text(max_size=8)


def _schema_accepts(value: str) -> bool:
    try:
        _SCHEMA_VALUE.validate_python(value)
    except ValidationError:
        return False
    return True


def _safe_value_accepts(value: str) -> bool:
    try:
        safe_value(value, what="name")
    except DataError:
        return False
    return True


@settings(max_examples=2000)
@given(_NAMES | st.from_regex(re.compile(SAFE_VALUE_PATTERN), fullmatch=True))
@example("a\n")  # Python's $ matches before a trailing newline; the schema's does not
@example("a..b")
@example("a.")
@example(".a")
@example("")
def test_safe_value_pattern_agrees_with_safe_value(value: str) -> None:
    assert _schema_accepts(value) == _safe_value_accepts(value), repr(value)


class _Body(BaseModel):
    n: JsonInt = 0
    day: JsonDate | None = None
    at: JsonDateTime | None = None


@pytest.mark.parametrize("field, value", [("n", True), ("n", "3"), ("day", 0), ("day", "0"), ("day", False),
                                          ("day", "2024-01-01T00:00:00"), ("at", 0), ("at", 1.5e9)])
def test_json_types_refuse_what_their_schema_calls_invalid(field: str, value: Any) -> None:
    with pytest.raises(ValidationError):
        _Body.model_validate({field: value})


def test_json_types_accept_json_and_python_values() -> None:
    body = _Body.model_validate({"n": 3.0, "day": "2024-02-29", "at": "2024-02-29T12:00:00Z"})
    assert (body.n, body.day, body.at and body.at.hour) == (3, date(2024, 2, 29), 12)
    assert _Body(day=date(2024, 1, 1)).day == date(2024, 1, 1)
    assert _Body.model_json_schema()["properties"]["day"]["anyOf"][0] == {"type": "string", "format": "date"}
