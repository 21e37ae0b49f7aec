"""Human labels and units of the run metrics (the tear sheet and `cde backtest run|show` print these)."""

from __future__ import annotations

import math
from typing import Literal

Unit = Literal["percent", "ratio", "days", "cash", "count", "times", "years", "bars"]

#: metric key → (label, unit), in the order a reader scans them
METRIC_LABELS: dict[str, tuple[str, Unit]] = {
    "total_return": ("Total return", "percent"),
    "cagr": ("CAGR", "percent"),
    "annual_volatility": ("Volatility (annualised)", "percent"),
    "sharpe": ("Sharpe ratio", "ratio"),
    "sortino": ("Sortino ratio", "ratio"),
    "max_drawdown": ("Max drawdown", "percent"),
    "calmar": ("Calmar ratio", "ratio"),
    "max_drawdown_duration_days": ("Longest drawdown", "days"),
    "beta": ("Beta to benchmark", "ratio"),
    "alpha": ("Alpha (annualised)", "percent"),
    "correlation": ("Correlation to benchmark", "ratio"),
    "turnover": ("Turnover (per year)", "times"),
    "avg_gross_exposure": ("Average gross exposure", "percent"),
    "avg_net_exposure": ("Average net exposure", "percent"),
    "hit_rate": ("Winning bars", "percent"),
    "profit_factor": ("Profit factor", "ratio"),
    "total_fees": ("Fees paid", "cash"),
    "total_slippage": ("Slippage paid", "cash"),
    "total_funding": ("Funding received", "cash"),
    "n_trades": ("Fills", "count"),
    "periods_per_year": ("Bars per year", "bars"),
    "years": ("Length", "years"),
}


def format_value(unit: Unit, value: float | int | None) -> str:
    """``value`` in ``unit`` for a reader: 12.34 %, 1.52, 38.0 days, 1,234.56, 2.1× …"""
    if value is None:
        return "—"
    if isinstance(value, float) and math.isnan(value):
        return "—"
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return _FORMATS.get(unit, "{:,.0f}").format(value * 100 if unit == "percent" else value)


#: one format per unit (percent values are fractions, scaled by 100 first)
_FORMATS: dict[str, str] = {"percent": "{:,.2f} %", "ratio": "{:,.2f}", "days": "{:,.1f} days",
                            "cash": "{:,.2f}", "count": "{:,.0f}", "times": "{:,.1f}×", "years": "{:,.2f} years"}


def metric_label(key: str) -> str:
    return METRIC_LABELS.get(key, (key.replace("_", " "), "ratio"))[0]


def format_metric(key: str, value: float | int | None) -> str:
    """One metric by its key (unknown keys print as plain numbers)."""
    return format_value(METRIC_LABELS.get(key, ("", "ratio"))[1], value)
