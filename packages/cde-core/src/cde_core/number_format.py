"""How every cde table, report and message prints a number.

Python's ``g`` formats switch to scientific notation from 10^precision on (``f"{17790:.4g}"`` is
``1.779e+04``), which makes a quant misread cash amounts and counts. Here values from 1,000 up get
thousands separators and two decimals (none from 100,000 up); smaller ones keep four significant
digits; only very small magnitudes (< 0.0001) use an exponent.
"""

from __future__ import annotations

import math


def format_number(value: float | int) -> str:
    """A human-readable number, never in scientific notation for magnitudes from 0.0001 up."""
    if isinstance(value, int):  # bool is an int too
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    magnitude = abs(value)
    if magnitude >= 1e5:
        return f"{value:,.0f}"
    if magnitude >= 1e3:
        return f"{value:,.2f}"
    if magnitude == 0 or magnitude >= 1e-4:
        digits = max(0, 3 - math.floor(math.log10(magnitude))) if magnitude else 0
        return f"{value:.{digits}f}"
    return f"{value:.3e}"


def format_percent(fraction: float) -> str:
    """A fraction as a percentage with two decimals and thousands separators (``12.34 %``)."""
    if not math.isfinite(fraction):
        return str(fraction)
    return f"{fraction * 100:,.2f} %"
