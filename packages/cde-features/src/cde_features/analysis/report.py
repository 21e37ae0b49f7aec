"""The factor-analysis report: plotly charts in the alphalens tradition, one or several factors side by side.

Per factor: the IC time series with its moving average, the IC histogram, mean forward return by
quantile, cumulative returns of each quantile and of the top-minus-bottom spread, and quantile
turnover with rank autocorrelation over time. Across factors: the summary table and IC decay over
horizons. For several factors, each chart row holds one chart per factor, so they read side by side.
"""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd

from cde_core.visual.page import Chart, Page, Section, epoch_ms, table_html
from cde_core.visual.plotly_asset import PlotlyScript
from cde_features.analysis.analyzer import ColumnAnalysis, FactorAnalysis
from cde_features.analysis.metrics import cumulative_quantile_returns

MA_DAYS = 30
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def _fmt(value: float, digits: int = 4) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def moving_average_window(index: pd.Index) -> int:
    """About 30 days of timestamps (at least 2), from the median spacing; at most a quarter of them."""
    times = pd.DatetimeIndex(index)
    step = times.to_series().diff().median() if len(times) > 1 else pd.NaT
    per_day = max(1, round(pd.Timedelta(days=1) / step)) if pd.notna(step) and step > pd.Timedelta(0) else 1
    return int(max(2, min(MA_DAYS * per_day, len(times) // 4)))


def summary_table(analysis: FactorAnalysis) -> str:
    frame = analysis.table()
    header = ["factor", "horizon (bars)", "IC", "rank IC", "rank IC IR", "rank IC t", "IC > 0",
              "top − bottom", "top turnover", "rank autocorr."]
    rows = [[str(r["column"]), str(r["horizon"]), _fmt(r["ic_mean"]), _fmt(r["rank_ic_mean"]), _fmt(r["rank_ic_ir"], 3),
             _fmt(r["rank_ic_t"], 2), _fmt(r["hit_rate"], 3), _fmt(r["top_minus_bottom"] * 1e4, 2) + " bp",
             _fmt(r["turnover_top"], 3), _fmt(r["autocorr"], 3)] for r in frame.to_dict("records")]
    return table_html(header, rows, css="data summary")


def ic_decay(analysis: FactorAnalysis) -> Any:
    """Mean rank IC by horizon for every factor, with ±1 standard error."""
    import plotly.graph_objects as go

    horizons = [str(h) for h in analysis.horizons]
    fig = go.Figure()
    for k, col in enumerate(analysis.columns):
        means = [col.rank_ic_summary[h]["mean"] for h in analysis.horizons]
        errors = [col.rank_ic_summary[h]["std"] / math.sqrt(max(col.rank_ic_summary[h]["n"], 1))
                  for h in analysis.horizons]
        fig.add_trace(go.Bar(x=horizons, y=means, name=col.column, marker_color=PALETTE[k % len(PALETTE)],
                             error_y={"type": "data", "array": [0.0 if math.isnan(e) else e for e in errors]}))
    fig.update_xaxes(type="category", title_text="forward horizon (bars)")
    fig.update_yaxes(title_text="mean rank IC", tickformat=".3f")
    fig.update_layout(barmode="group", hovermode="closest")
    return fig


def ic_series(col: ColumnAnalysis, horizon: int) -> Any:
    import plotly.graph_objects as go

    ic = col.ic[horizon]["rank_ic"]
    window = moving_average_window(ic.index)
    ma = ic.rolling(window, min_periods=window).mean()
    x = epoch_ms(ic.index)
    fig = go.Figure([go.Scatter(x=x, y=ic.to_numpy(), name="rank IC", mode="lines",
                                line={"width": 0.8, "color": "#90a4ae"}),
                     go.Scatter(x=x, y=ma.to_numpy(), name=f"{window}-bar mean", mode="lines",
                                line={"width": 2, "color": "#1f77b4"})])
    fig.update_xaxes(type="date")
    fig.update_yaxes(title_text="rank IC", tickformat=".2f")
    return fig


def ic_histogram(col: ColumnAnalysis, horizon: int) -> Any:
    import plotly.graph_objects as go

    ic = col.ic[horizon]["rank_ic"].dropna()
    fig = go.Figure(go.Histogram(x=ic.to_numpy(), nbinsx=40, marker_color="#1f77b4", name="rank IC"))
    fig.add_vline(x=float(ic.mean()) if len(ic) else 0.0, line_dash="dash", line_color="#d62728")
    fig.update_xaxes(title_text="rank IC", tickformat=".2f")
    fig.update_yaxes(title_text="timestamps")
    fig.update_layout(hovermode="closest", showlegend=False)
    return fig


def quantile_bars(col: ColumnAnalysis, horizons: list[int]) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    for k, h in enumerate(horizons):
        q = col.quantile_returns[h]
        fig.add_trace(go.Bar(x=[f"Q{i}" for i in q.index], y=q.to_numpy() * 1e4, name=f"{h} bars",
                             marker_color=PALETTE[k % len(PALETTE)]))
    fig.update_yaxes(title_text="mean forward return (bp)", tickformat=",.1f")
    fig.update_layout(barmode="group", hovermode="closest")
    return fig


def cumulative_quantiles(col: ColumnAnalysis, horizon: int) -> Any:
    import plotly.graph_objects as go

    cum = cumulative_quantile_returns(col.quantile_returns_by_time[horizon], horizon)
    x = epoch_ms(cum.index)
    n = len(cum.columns) - 1
    traces = [go.Scatter(x=x, y=cum[q].to_numpy(), name=f"Q{q}", mode="lines",
                         line={"width": 1.2, "color": _ramp(k, n)}) for k, q in enumerate(cum.columns[:-1])]
    traces.append(go.Scatter(x=x, y=cum["spread"].to_numpy(), name=f"Q{n} − Q1", mode="lines",
                             line={"width": 2.2, "color": "#000000", "dash": "dot"}))
    fig = go.Figure(traces)
    fig.update_xaxes(type="date")
    fig.update_yaxes(tickformat=".0%", hoverformat=".2%", title_text="cumulative return")
    return fig


def turnover_autocorrelation(col: ColumnAnalysis) -> Any:
    import plotly.graph_objects as go

    x = epoch_ms(col.turnover.index)
    fig = go.Figure([go.Scatter(x=x, y=col.turnover["top"].to_numpy(), name="top quantile turnover", mode="lines",
                                line={"width": 1, "color": "#2ca02c"}),
                     go.Scatter(x=x, y=col.turnover["bottom"].to_numpy(), name="bottom quantile turnover",
                                mode="lines", line={"width": 1, "color": "#d62728"}),
                     go.Scatter(x=x, y=col.autocorrelation_series.to_numpy(), name="rank autocorrelation (lag 1)",
                                mode="lines", line={"width": 1.4, "color": "#1f77b4"}, yaxis="y2")])
    fig.update_xaxes(type="date")
    fig.update_layout(yaxis={"title": {"text": "turnover"}, "tickformat": ".0%", "range": [0, 1]},
                      yaxis2={"overlaying": "y", "side": "right", "range": [-1, 1], "showgrid": False,
                              "title": {"text": "autocorrelation"}, "tickformat": ".1f"})
    return fig


def _ramp(k: int, n: int) -> str:
    """Quantile colours from red (Q1) to green (Qn)."""
    t = k / max(n - 1, 1)
    return f"rgb({int(215 - 170 * t)},{int(48 + 120 * t)},{int(39 + 30 * t)})"


def analysis_page(analysis: FactorAnalysis, *, title: str = "cde factor analysis", note: str = "") -> Page:
    """The report as a :class:`~cde_core.visual.page.Page` (HTML via ``render``, chart JSON via ``charts``)."""
    first = analysis.horizons[0]
    side_by_side = len(analysis.columns) > 1
    blocks: list[Chart | Section] = [
        Section("Summary", summary_table(analysis)),
        Chart("decay", "IC decay: mean rank IC by forward horizon", ic_decay(analysis),
              note="bars show ±1 standard error; overlapping horizons make errors look smaller than they are"),
    ]
    rows: list[tuple[str, str, Any, str]] = [
        ("ic", f"Rank IC over time ({first} bars ahead)", lambda c: ic_series(c, first), ""),
        ("ic_hist", f"Rank IC distribution ({first} bars ahead)", lambda c: ic_histogram(c, first),
         "dashed line: mean"),
        ("quantiles", "Mean forward return by factor quantile", lambda c: quantile_bars(c, analysis.horizons),
         "Q1 holds the lowest factor values"),
        ("cumulative", f"Cumulative return by quantile ({first} bars ahead)", lambda c: cumulative_quantiles(c, first),
         f"equal-weight members of each quantile, compounded every {first} bars (no overlap)"),
        ("turnover", "Quantile turnover and rank autocorrelation", turnover_autocorrelation, ""),
    ]
    for kind, label, draw, chart_note in rows:
        for k, col in enumerate(analysis.columns):
            blocks.append(Chart(f"f{k}_{kind}", f"{col.column}: {label}", draw(col), note=chart_note,
                                wide=not side_by_side))
    factors = ", ".join(c.column for c in analysis.columns)
    subtitle = (f"{factors} · horizons {', '.join(map(str, analysis.horizons))} bars · "
                f"{analysis.quantiles} quantiles" + (f" · {note}" if note else ""))
    notice = ("<p>Forward returns are close-to-close simple returns over the horizon in bars; IC is the "
              "cross-sectional correlation at each timestamp (rank IC: Spearman). Overlapping horizons "
              "inflate t-statistics.</p>")
    for line in analysis.notes():  # why whole columns of the summary are "—"
        notice += f"<p><b>Note:</b> {html.escape(line)}.</p>"
    return Page(title=title, subtitle=subtitle, blocks=blocks, notice=notice)


def render_html(analysis: FactorAnalysis, *, title: str = "cde factor analysis", note: str = "",
                plotly: PlotlyScript | None = None) -> str:
    """The report's HTML; plotly.js inlined unless ``plotly`` points at a shared copy."""
    return analysis_page(analysis, title=title, note=note).render(plotly or PlotlyScript.inline())


__all__ = ["analysis_page", "moving_average_window", "render_html"]
