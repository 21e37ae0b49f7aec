"""One self-contained HTML report per run (plotly, inlined: works offline).

Charts: NAV vs benchmark, drawdown, monthly-returns heat map, rolling Sharpe, exposure and
turnover, top contributors; then the metrics table. plotly is imported only here, lazily.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import pandas as pd

from cde_backtest.metrics import Metrics
from cde_backtest.run_notices import notices_html
from cde_core.errors import NotFoundError
from cde_core.number_format import format_number, format_percent
from cde_core.suggest import did_you_mean

_MAX_POINTS = 20_000
_PERCENT = {"total_return", "cagr", "annual_volatility", "max_drawdown", "avg_gross_exposure",
            "avg_net_exposure", "hit_rate"}


def benchmark_nav(close: pd.DataFrame, initial_cash: float, symbol: str | None = None) -> pd.Series:
    """Buy and hold ``symbol``, or an equal-weight basket rebalanced every bar (mean simple return of
    the symbols that have a bar), scaled to the initial cash and valued at each bar's close."""
    close = close.ffill()
    if symbol is not None and symbol not in close.columns:
        raise NotFoundError(f"benchmark symbol '{symbol}' is not in the backtest's data", where="benchmark",
                            hint=did_you_mean(symbol, map(str, close.columns), what="symbols"))
    if symbol is not None:
        first = close[symbol].dropna()
        return close[symbol] / (first.iloc[0] if len(first) else np.nan) * initial_cash
    rets = close.pct_change(fill_method=None)
    rets.iloc[0] = 0.0
    return initial_cash * (1.0 + rets.mean(axis=1).fillna(0.0)).cumprod()


def _thin(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.resample("1D").last().dropna(how="all") if len(frame) > _MAX_POINTS else frame


def _fmt(name: str, value: float | int) -> str:
    """One metric as printed in the report and the CLI tables (percentages for the fractions)."""
    if name in _PERCENT and not isinstance(value, int):
        return format_percent(value)
    return format_number(value)


def metrics_table_html(metrics: Metrics) -> str:
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(_fmt(k, v))}</td></tr>"
                   for k, v in metrics.model_dump().items())
    return f'<table class="metrics">{rows}</table>'


def monthly_returns(nav: pd.Series, initial_cash: float) -> pd.DataFrame:
    """Year × month table of monthly returns: last NAV of the month over the last NAV before the month
    (a month without bars is NaN)."""
    month_end = nav.resample("ME").last()
    prev = month_end.ffill().shift(1)
    prev.iloc[0] = initial_cash
    rets = month_end / prev - 1.0
    table = pd.DataFrame({"year": rets.index.year, "month": rets.index.month, "ret": rets.to_numpy()})
    return table.pivot(index="year", columns="month", values="ret").reindex(columns=range(1, 13))


def build_report(*, title: str, nav: pd.DataFrame, contributions: pd.DataFrame, metrics: Metrics,
                 initial_cash: float, subtitle: str = "", notices: list[str] | None = None) -> str:
    """The report HTML. ``nav`` is the run's nav frame (nav, benchmark, gross, net, turnover …);
    ``notices`` (forced exits, scaled weights, :mod:`cde_backtest.run_notices`) head the page."""
    import plotly.graph_objects as go

    nav = nav.copy()
    nav.index = pd.DatetimeIndex(nav.index)
    figures: list[tuple[str, Any]] = []
    thin = _thin(nav)

    fig = go.Figure()
    fig.add_trace(go.Scatter(x=thin.index, y=thin["nav"], name="strategy", line={"width": 1.6}))
    if "benchmark" in thin.columns:
        fig.add_trace(go.Scatter(x=thin.index, y=thin["benchmark"], name="benchmark",
                                 line={"width": 1.2, "dash": "dot"}))
    figures.append(("NAV vs benchmark", fig))

    dd = nav["nav"] / nav["nav"].cummax().clip(lower=initial_cash) - 1.0
    dd_thin = _thin(dd.to_frame("dd"))["dd"]
    fig = go.Figure(go.Scatter(x=dd_thin.index, y=dd_thin * 100, fill="tozeroy", name="drawdown %",
                               line={"color": "#c0392b", "width": 1}))
    fig.update_yaxes(title_text="%")
    figures.append(("Drawdown", fig))

    monthly = monthly_returns(nav["nav"], initial_cash)
    z = monthly.to_numpy() * 100
    text = [["" if np.isnan(v) else f"{v:.1f}" for v in row] for row in z]
    fig = go.Figure(go.Heatmap(z=z, x=[pd.Timestamp(2000, m, 1).strftime("%b") for m in range(1, 13)],
                               y=[str(y) for y in monthly.index], text=text, texttemplate="%{text}",
                               colorscale="RdYlGn", zmid=0, colorbar={"title": "%"}))
    figures.append(("Monthly returns (%)", fig))

    step = nav.index.to_series().diff().median()
    bars_per_day = max(1, round(pd.Timedelta(days=1) / step)) if pd.notna(step) and step > pd.Timedelta(0) else 1
    window = min(30 * bars_per_day, max(len(nav) // 4, 2))
    r = nav["returns"]
    rolling = r.rolling(window).mean() / r.rolling(window).std() * math.sqrt(metrics.periods_per_year)
    roll_thin = _thin(rolling.to_frame("s"))["s"]
    fig = go.Figure(go.Scatter(x=roll_thin.index, y=roll_thin, name="rolling Sharpe", line={"width": 1.2}))
    figures.append((f"Rolling Sharpe ({window} bars)", fig))

    fig = go.Figure()
    fig.add_trace(go.Scatter(x=thin.index, y=thin["gross"], name="gross exposure", line={"width": 1.2}))
    fig.add_trace(go.Scatter(x=thin.index, y=thin["net"], name="net exposure", line={"width": 1.2}))
    daily_turnover = nav["turnover"].resample("1D").sum()
    fig.add_trace(go.Bar(x=daily_turnover.index, y=daily_turnover, name="turnover / day", yaxis="y2",
                         opacity=0.5))
    fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "title": "turnover"})
    figures.append(("Exposure and turnover", fig))

    contrib = contributions["total"].sort_values()
    shown = pd.concat([contrib.head(10), contrib.tail(10)]) if len(contrib) > 20 else contrib
    shown = shown[~shown.index.duplicated()]
    fig = go.Figure(go.Bar(x=shown.to_numpy(), y=[str(s) for s in shown.index], orientation="h",
                           marker={"color": ["#27ae60" if v >= 0 else "#c0392b" for v in shown]}))
    figures.append(("Top contributors (P&L after costs)", fig))

    parts = [notices_html(notices or [])]
    for k, (name, figure) in enumerate(figures):
        figure.update_layout(height=360, margin={"l": 50, "r": 30, "t": 30, "b": 40}, template="plotly_white")
        parts.append(f"<h2>{html.escape(name)}</h2>")
        parts.append(figure.to_html(full_html=False, include_plotlyjs=(k == 0),
                                    config={"displaylogo": False, "responsive": True}))
    return _PAGE.format(title=html.escape(title), subtitle=html.escape(subtitle), charts="\n".join(parts),
                        metrics=metrics_table_html(metrics))


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; }}
h1 {{ margin-bottom: 0; }} .sub {{ color: #666; margin-top: 4px; }}
h2 {{ font-size: 1.05em; margin: 28px 0 4px; }}
table.metrics {{ border-collapse: collapse; }} table.metrics th, table.metrics td {{ padding: 3px 12px;
border-bottom: 1px solid #eee; text-align: left; }} table.metrics td {{ text-align: right; }}
</style></head>
<body><h1>{title}</h1><p class="sub">{subtitle}</p>
<h2>Metrics</h2>{metrics}
{charts}
</body></html>
"""
