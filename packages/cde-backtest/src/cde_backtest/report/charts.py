"""The tear sheet's plotly figures (one function per chart; plotly imported on call)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cde_core.visual.page import epoch_ms

MAX_POINTS = 20_000
STRATEGY, BENCHMARK = "#1f77b4", "#7f7f7f"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def thin(frame: pd.DataFrame) -> pd.DataFrame:
    """Daily last values once a series has more points than a browser draws comfortably."""
    return frame.resample("1D").last().dropna(how="all") if len(frame) > MAX_POINTS else frame


def mark_warmup(fig: Any, start: pd.Timestamp, end: pd.Timestamp | None) -> None:
    """Make the x axis a date axis and shade the warm-up (first bar → first fill)."""
    fig.update_xaxes(type="date")
    if end is None or end <= start:
        return
    x0, x1 = (float(v) for v in epoch_ms([start, end]))
    fig.add_vrect(x0=x0, x1=x1, fillcolor="#b0bec5", opacity=0.25, line_width=0, layer="below",
                  annotation_text="warm-up", annotation_position="top left")


def _line(go: Any, x: Any, y: Any, name: str, color: str, dash: str | None = None) -> Any:
    return go.Scatter(x=x, y=y, name=name, mode="lines", line={"width": 1.5, "color": color, "dash": dash})


def cumulative_returns(nav: pd.DataFrame, initial_cash: float, warmup: pd.Timestamp | None) -> Any:
    import plotly.graph_objects as go

    view = thin(nav[["nav", "benchmark"]] / initial_cash - 1.0)
    fig = go.Figure([_line(go, epoch_ms(view.index), view["nav"], "strategy", STRATEGY),
                     _line(go, epoch_ms(view.index), view["benchmark"], "benchmark", BENCHMARK, "dot")])
    fig.update_yaxes(tickformat=".0%", hoverformat=".2%", title_text="cumulative return")
    mark_warmup(fig, nav.index[0], warmup)
    return fig


def underwater(drawdowns: pd.DataFrame, warmup: pd.Timestamp | None) -> Any:
    import plotly.graph_objects as go

    view = thin(drawdowns)
    fig = go.Figure([go.Scatter(x=epoch_ms(view.index), y=view["strategy"], name="strategy", fill="tozeroy",
                                mode="lines",
                                line={"width": 1, "color": "#c0392b"}),
                     _line(go, epoch_ms(view.index), view["benchmark"], "benchmark", BENCHMARK, "dot")])
    fig.update_yaxes(tickformat=".0%", hoverformat=".2%", title_text="below previous peak")
    mark_warmup(fig, drawdowns.index[0], warmup)
    return fig


def monthly_heatmap(table: pd.DataFrame, flat_months: set[tuple[int, int]]) -> Any:
    """Months in the run as columns; months the strategy spent entirely in warm-up say so."""
    import plotly.graph_objects as go

    z = table.to_numpy(dtype=np.float64)
    text = [["warm-up" if (year, month) in flat_months else ("" if np.isnan(v) else f"{v * 100:.1f}%")
             for month, v in zip(table.columns, row, strict=True)] for year, row in zip(table.index, z, strict=True)]
    z = np.where([[(y, m) in flat_months for m in table.columns] for y in table.index], np.nan, z)
    limit = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 0.01
    fig = go.Figure(go.Heatmap(z=z, x=[MONTHS[m - 1] for m in table.columns], y=[str(y) for y in table.index],
                               text=text, texttemplate="%{text}", colorscale="RdYlGn", zmid=0, zmin=-limit,
                               zmax=limit, hoverongaps=False, xgap=2, ygap=2,
                               colorbar={"tickformat": ".0%", "title": {"text": "return"}},
                               hovertemplate="%{y} %{x}: %{z:.2%}<extra></extra>"))
    fig.update_yaxes(type="category", autorange="reversed")
    fig.update_xaxes(type="category", showgrid=False)
    fig.update_layout(height=max(160, 80 + 45 * len(table.index)), hovermode="closest")
    return fig


def rolling(frame: pd.DataFrame, column: str, *, percent: bool, warmup: pd.Timestamp | None) -> Any:
    import plotly.graph_objects as go

    view = thin(frame).dropna(how="all")
    x = epoch_ms(view.index)
    fig = go.Figure([_line(go, x, view[f"strategy_{column}"], "strategy", STRATEGY),
                     _line(go, x, view[f"benchmark_{column}"], "benchmark", BENCHMARK, "dot")])
    if percent:
        fig.update_yaxes(tickformat=".0%", hoverformat=".1%", rangemode="tozero")
    else:
        fig.update_yaxes(hoverformat=".2f", zeroline=True)
    fig.update_xaxes(range=list(epoch_ms(frame.index[[0, -1]])))
    mark_warmup(fig, frame.index[0], warmup)
    return fig


def distribution(daily: pd.DataFrame) -> Any:
    import plotly.graph_objects as go

    # one bin grid for both (bingroup), so the two shapes compare
    fig = go.Figure([go.Histogram(x=daily["strategy"].dropna(), name="strategy", opacity=0.75,
                                  marker_color=STRATEGY, nbinsx=50, bingroup="daily"),
                     go.Histogram(x=daily["benchmark"].dropna(), name="benchmark", opacity=0.45,
                                  marker_color=BENCHMARK, nbinsx=50, bingroup="daily")])
    fig.update_layout(barmode="overlay", bargap=0.05, hovermode="closest")
    fig.update_xaxes(tickformat=".1%", title_text="daily return")
    fig.update_yaxes(title_text="days")
    return fig


def exposure(nav: pd.DataFrame, warmup: pd.Timestamp | None) -> Any:
    import plotly.graph_objects as go

    view = thin(nav[["gross", "net"]])
    daily_turnover = nav["turnover"].resample("1D").sum()
    fig = go.Figure([_line(go, epoch_ms(view.index), view["gross"], "gross exposure", "#8e44ad"),
                     _line(go, epoch_ms(view.index), view["net"], "net exposure", "#16a085"),
                     go.Bar(x=epoch_ms(daily_turnover.index), y=daily_turnover, name="turnover per day",
                            yaxis="y2",
                            opacity=0.35, marker_color="#f39c12")])
    fig.update_layout(yaxis={"tickformat": ".0%", "title": {"text": "of NAV"}},
                      yaxis2={"overlaying": "y", "side": "right", "tickformat": ".0%", "showgrid": False,
                              "tickmode": "auto", "nticks": 5,
                              "title": {"text": "traded / NAV"}, "rangemode": "tozero"})
    mark_warmup(fig, nav.index[0], warmup)
    return fig


def contributors(contributions: pd.DataFrame) -> Any:
    import plotly.graph_objects as go

    column = "total" if "total" in contributions.columns else "pnl"
    contrib = contributions[column].sort_values()
    shown = pd.concat([contrib.head(10), contrib.tail(10)]) if len(contrib) > 20 else contrib
    shown = shown[~shown.index.duplicated()]
    fig = go.Figure(go.Bar(x=shown.to_numpy(), y=[str(s) for s in shown.index], orientation="h",
                           marker={"color": ["#27ae60" if v >= 0 else "#c0392b" for v in shown]},
                           hovertemplate="%{y}: %{x:,.2f}<extra></extra>"))
    fig.update_xaxes(tickformat=",.0f", title_text="P&L after costs and funding (cash)")
    fig.update_layout(height=max(220, 60 + 22 * len(shown)), hovermode="closest")
    return fig
