"""Numbers print without scientific notation from 0.0001 up (the 10,000–100,000 band above all)."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from cde_core.number_format import format_number, format_percent


@given(st.floats(min_value=1e-4, max_value=1e15) | st.floats(min_value=-1e15, max_value=-1e-4))
def test_number_format_is_plain_and_round_trips(value):
    text = format_number(value)
    assert "e" not in text.lower()
    parsed = float(text.replace(",", ""))
    assert math.isclose(parsed, value, rel_tol=1e-3, abs_tol=0.5)


def test_number_format_hand_cases():
    assert format_number(17790.0) == "17,790.00"
    assert format_number(99_999.994) == "99,999.99"
    assert format_number(123_456.7) == "123,457"
    assert format_number(1.23456) == "1.235"
    assert format_number(0.0) == "0"
    assert format_number(12_000) == "12,000"
    assert format_number(float("inf")) == "inf"
    assert format_percent(-0.7612) == "-76.12 %"
