"""The tear sheet's tables besides the metrics: drawdown periods, round trips, daily-return summary."""

from __future__ import annotations

import pandas as pd

from cde_backtest.report.labels import format_value
from cde_core.visual.page import table_html


def _when(ts: object) -> str:
    return "—" if ts is None or pd.isna(ts) else pd.Timestamp(ts).strftime("%Y-%m-%d %H:%M")


def drawdown_table(periods: pd.DataFrame) -> str:
    if periods.empty:
        return "<p>The NAV never fell below a previous peak.</p>"
    rows = [[str(k + 1), _when(r.start), _when(r.trough), _when(r.recovery) if pd.notna(r.recovery)
             else "not recovered", format_value("percent", r.depth), format_value("days", r.days)]
            for k, r in enumerate(periods.itertuples(index=False))]
    return table_html(["#", "start (peak)", "trough", "recovery", "depth", "length"], rows,
                      css="data drawdowns")


def round_trip_table(trips: pd.DataFrame, empty: str) -> str:
    if trips.empty:
        return f"<p>{empty}</p>"
    rows = [[r["symbol"], r["side"], _when(r["opened"]), _when(r["closed"]) if pd.notna(r["closed"])
             else "open at end", f"{r['fills']:,}", format_value("cash", r["pnl"]),
             format_value("percent", r["return"])]
            for r in trips.to_dict("records")]
    return table_html(["symbol", "side", "opened", "closed", "fills", "P&L", "return"], rows, css="data trips")


def daily_summary(daily: pd.DataFrame) -> str:
    """Mean, volatility, skew, kurtosis, best/worst day and 95 % VaR of daily returns."""
    stats = []
    for name in ("strategy", "benchmark"):
        s = daily[name].dropna()
        stats.append({"mean": s.mean(), "std": s.std(), "skew": s.skew(), "kurt": s.kurt(), "best": s.max(),
                      "worst": s.min(), "var": s.quantile(0.05), "up": (s > 0).mean()})
    labels = [("Mean daily return", "mean", "percent"), ("Daily volatility", "std", "percent"),
              ("Skew", "skew", "ratio"), ("Excess kurtosis", "kurt", "ratio"), ("Best day", "best", "percent"),
              ("Worst day", "worst", "percent"), ("Daily VaR 95 %", "var", "percent"),
              ("Up days", "up", "percent")]
    rows = [[label, format_value(unit, stats[0][key]), format_value(unit, stats[1][key])]  # type: ignore[arg-type]
            for label, key, unit in labels]
    return table_html(["daily returns", "strategy", "benchmark"], rows, css="data daily")
