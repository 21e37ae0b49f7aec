"""Assemble the tear sheet: metrics side by side, what produced the run, then the charts and tables."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from cde_backtest.metrics import Metrics, drawdown
from cde_backtest.report import charts
from cde_backtest.report.comparison import bar_returns, benchmark_metrics, comparison_table, relative_stats
from cde_backtest.report.periods import (
    bar_step,
    daily_returns,
    drawdown_periods,
    monthly_returns,
    rolling_stats,
    rolling_window,
    warmup_end,
)
from cde_backtest.report.setup import setup_html, when
from cde_backtest.report.tables import daily_summary, drawdown_table, round_trip_table
from cde_backtest.report.trades import round_trips, winners_and_losers
from cde_core.visual.page import Chart, Page, Section
from cde_core.visual.plotly_asset import PlotlyScript

TOP_TRADES = 10
TOP_DRAWDOWNS = 10


@dataclass
class ReportInputs:
    """Everything a tear sheet is drawn from: what a run folder holds (so a stored run re-renders)."""

    title: str
    nav: pd.DataFrame                  # the run's nav frame, with a ``benchmark`` column
    contributions: pd.DataFrame
    metrics: Metrics
    initial_cash: float
    trades: pd.DataFrame = field(default_factory=pd.DataFrame)
    config: dict[str, Any] = field(default_factory=dict)
    last_close: dict[str, float] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)   # short warnings shown above the metrics (HTML-escaped)



def _span_text(span: pd.Timedelta) -> str:
    """A window's length in the unit that shows it: 30 days, 6 hours, 15 minutes (not "0 days")."""
    for unit, size in (("days", pd.Timedelta(days=1)), ("hours", pd.Timedelta(hours=1)),
                       ("minutes", pd.Timedelta(minutes=1))):
        if span >= 2 * size:
            return f"{span / size:,.0f} {unit}"
    return f"{span.total_seconds():,.0f} seconds"

def _warmup_text(nav: pd.DataFrame, end: pd.Timestamp | None) -> str:
    if end is None:
        return "the strategy never traded"
    if end <= nav.index[0]:
        return "none (traded from the first bar)"
    bars = int((nav.index < end).sum())
    return f"{bars:,} bars, {nav.index[0]:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} (flat while its lookback fills)"


def _flat_months(nav: pd.DataFrame, end: pd.Timestamp | None) -> set[tuple[int, int]]:
    """(year, month) of months whose every bar lies in the warm-up."""
    if end is None:
        return {(t.year, t.month) for t in nav.index}
    live = {(t.year, t.month) for t in nav.index[nav.index >= end]}
    return {(t.year, t.month) for t in nav.index} - live


def report_page(inputs: ReportInputs) -> Page:
    """The tear sheet as a :class:`~cde_core.visual.page.Page` (HTML via ``render``, chart JSON via ``charts``)."""
    nav = inputs.nav.copy()
    nav.index = pd.DatetimeIndex(nav.index)
    cash = inputs.initial_cash
    metrics = inputs.metrics
    for column in ("benchmark", "traded", "gross", "net", "turnover"):  # runs written by older versions
        if column not in nav.columns:
            nav[column] = float("nan") if column == "benchmark" else 0.0
    has_bench = bool(nav["benchmark"].notna().all())
    warm = warmup_end(nav)
    bench = benchmark_metrics(nav, cash) if has_bench else None
    relative = relative_stats(bar_returns(nav["nav"], cash), bar_returns(nav["benchmark"], cash),
                              metrics.periods_per_year)

    live = nav.index >= warm if warm is not None else nav.index >= nav.index[-1]
    window = rolling_window(nav.index, int(live.sum()))
    rolls = pd.concat([rolling_stats(pd.Series(bar_returns(nav[col], cash), index=nav.index),
                                     metrics.periods_per_year, window, warm).add_prefix(f"{who}_")
                       for who, col in (("strategy", "nav"), ("benchmark", "benchmark"))], axis=1)
    ext = pd.DataFrame({"strategy": drawdown(pd.concat([pd.Series([cash]), nav["nav"]]).to_numpy())[1:],
                        "benchmark": drawdown(pd.concat([pd.Series([cash]), nav["benchmark"]]).to_numpy())[1:]},
                       index=nav.index)
    daily = pd.DataFrame({who: daily_returns(nav[col], cash, warm)
                          for who, col in (("strategy", "nav"), ("benchmark", "benchmark"))})
    trips = round_trips(inputs.trades, inputs.last_close)
    winners, losers = winners_and_losers(trips, TOP_TRADES)
    window_span = _span_text(window * bar_step(nav.index))
    note_live = "from the end of the warm-up" if warm is not None and warm > nav.index[0] else "from the first bar"

    blocks: list[Chart | Section] = [
        Section("Performance: strategy and benchmark", comparison_table(metrics, bench, relative), wide=False),
        Section("Strategy, parameters and data", setup_html(inputs.config, _warmup_text(nav, warm)), wide=False),
        Chart("cumulative", "Cumulative return", charts.cumulative_returns(nav, cash, warm)),
        Chart("drawdown", "Drawdown (underwater)", charts.underwater(ext, warm)),
        Chart("monthly", "Monthly returns", charts.monthly_heatmap(monthly_returns(nav["nav"], cash),
                                                                   _flat_months(nav, warm)),
              note="last NAV of the month over the last NAV before it; only months in the run"),
        Section("Worst drawdown periods", drawdown_table(drawdown_periods(nav["nav"], cash, TOP_DRAWDOWNS))),
        Chart("rolling_sharpe", f"Rolling Sharpe ratio ({window:,} bars ≈ {window_span})",
              charts.rolling(rolls, "sharpe", percent=False, warmup=warm), wide=False,
              note=f"annualised; starts once the window is full, counted {note_live}"),
        Chart("rolling_volatility", f"Rolling volatility ({window:,} bars)",
              charts.rolling(rolls, "volatility", percent=True, warmup=warm), wide=False,
              note=f"annualised; starts once the window is full, counted {note_live}"),
        Chart("distribution", "Distribution of daily returns", charts.distribution(daily), wide=False,
              note=f"{note_live}; end-of-day NAV"),
        Section("Daily returns", daily_summary(daily), wide=False),
        Chart("exposure", "Exposure and turnover", charts.exposure(nav, warm)),
        Section(f"Top {TOP_TRADES} winning round trips",
                round_trip_table(winners, "no winning round trip")),
        Section(f"Top {TOP_TRADES} losing round trips",
                round_trip_table(losers, "no losing round trip")),
        Chart("contributors", "P&L by symbol", charts.contributors(inputs.contributions)),
    ]
    data = inputs.config.get("data", {})
    subtitle = (f"{when(data.get('start', nav.index[0]))} → {when(data.get('end', nav.index[-1]))} UTC, "
                f"{len(nav):,} bars, initial cash {cash:,.0f}")
    notice = "".join(f"<p>{html.escape(text)}</p>" for text in inputs.notices)
    return Page(title=inputs.title, subtitle=subtitle, blocks=blocks, notice=notice)


def build_report(inputs: ReportInputs, plotly: PlotlyScript | None = None) -> str:
    """The tear sheet's HTML; plotly.js inlined unless ``plotly`` points at a shared copy."""
    return report_page(inputs).render(plotly or PlotlyScript.inline())
