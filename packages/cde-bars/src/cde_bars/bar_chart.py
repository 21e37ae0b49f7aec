"""A candlestick chart of stored bars with volume (buy and sell volume stacked), any bar spec.

Tick, volume, dollar, imbalance and run bars are drawn at their first-trade time, time bars at their
interval start, so bars of every kind sit where they began.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cde_core.visual.page import Chart, Page, Section, epoch_ms, table_html

UP, DOWN = "#26a69a", "#ef5350"


def candlestick_figure(bars: pd.DataFrame) -> Any:
    """Candles (top, 75 %) and stacked buy / sell volume (bottom) on one shared date axis."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    x = epoch_ms(bars.index)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.03)
    fig.add_trace(go.Candlestick(x=x, open=bars["open"].to_numpy(), high=bars["high"].to_numpy(),
                                 low=bars["low"].to_numpy(), close=bars["close"].to_numpy(), name="price",
                                 increasing={"line": {"color": UP}}, decreasing={"line": {"color": DOWN}}),
                  row=1, col=1)
    volume = bars["volume"].to_numpy(dtype=np.float64)
    if "buy_volume" in bars.columns:
        buy = bars["buy_volume"].to_numpy(dtype=np.float64)
        fig.add_trace(go.Bar(x=x, y=buy, name="buy volume", marker_color=UP, opacity=0.7), row=2, col=1)
        fig.add_trace(go.Bar(x=x, y=volume - buy, name="sell volume", marker_color=DOWN, opacity=0.7),
                      row=2, col=1)
    else:
        fig.add_trace(go.Bar(x=x, y=volume, name="volume", marker_color="#90a4ae"), row=2, col=1)
    fig.update_layout(height=620, barmode="stack", bargap=0.1, xaxis_rangeslider_visible=False,
                      hovermode="x unified")
    fig.update_xaxes(type="date")
    fig.update_yaxes(title_text="price", tickformat=",.6~g", row=1, col=1)
    fig.update_yaxes(title_text="volume", tickformat=",.3~s", row=2, col=1)
    return fig


def summary_html(bars: pd.DataFrame) -> str:
    first, last = bars.iloc[0], bars.iloc[-1]
    rows = [["bars", f"{len(bars):,}"], ["first", f"{bars.index[0]:%Y-%m-%d %H:%M:%S}"],
            ["last", f"{bars.index[-1]:%Y-%m-%d %H:%M:%S}"],
            ["open → close", f"{first['open']:,.6g} → {last['close']:,.6g}"],
            ["high / low", f"{bars['high'].max():,.6g} / {bars['low'].min():,.6g}"],
            ["volume", f"{bars['volume'].sum():,.6g}"]]
    return table_html(["", "value"], rows, css="data bars-summary")


def bars_page(bars: pd.DataFrame, *, title: str, subtitle: str) -> Page:
    return Page(title=title, subtitle=subtitle,
                blocks=[Chart("candles", "Price and volume", candlestick_figure(bars)),
                        Section("Summary", summary_html(bars))])
