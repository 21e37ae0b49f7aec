"""``GET /visual/bars/…``: a candlestick page of stored bars and the same chart as JSON."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.responses import HTMLResponse

from cde_core.errors import NotFoundError
from cde_core.lake import SAFE_VALUE_PATTERN
from cde_core.visual.names import lake_name
from cde_core.visual.plotly_asset import PlotlyScript, add_asset_route

Name = Annotated[str, Path(pattern=SAFE_VALUE_PATTERN, max_length=200)]
MAX_BARS = 50_000
Start = Annotated[date | None, Query(description="first day (UTC), inclusive")]
End = Annotated[date | None, Query(description="last day (UTC), inclusive")]
MaxBars = Annotated[int, Query(ge=1, le=MAX_BARS, description="draw at most the last N bars of the range")]


def _bars(request: Request, spec_id: str, exchange: str, market: str, symbol: str, start: date | None,
          end: date | None, max_bars: int) -> tuple[Any, str]:
    """The symbol's bars in [start, end] (the last ``max_bars`` of them) and a subtitle saying so."""
    from cde_bars.reader import read_bars

    names = {k: lake_name(v, what=k) for k, v in
             (("bar spec", spec_id), ("exchange", exchange), ("market", market), ("symbol", symbol))}
    frame = read_bars(request.app.state.lake, names["bar spec"], names["exchange"], names["market"],
                      [names["symbol"]], start, end).droplevel("symbol")
    if frame.empty:
        raise NotFoundError(f"no {spec_id} bars of {symbol} between {start or 'the start'} and "
                            f"{end or 'the end'}", where=f"bars/spec={spec_id}", hint="widen start / end")
    note = ""
    if len(frame) > max_bars:
        note = f" (the last {max_bars:,} of {len(frame):,}; narrow start / end or raise max_bars)"
        frame = frame.iloc[-max_bars:]
    return frame, f"{exchange}/{market} · bars/spec={spec_id} · {len(frame):,} bars{note}"


def add_visual_routes(app: FastAPI) -> None:
    add_asset_route(app)
    router = APIRouter(prefix="/visual/bars", tags=["visual"])

    @router.get("/{spec_id}/{exchange}/{market}/{symbol}", response_class=HTMLResponse)
    def candlestick_page(request: Request, spec_id: Name, exchange: Name, market: Name, symbol: Name,
                         start: Start = None, end: End = None, max_bars: MaxBars = 5_000) -> HTMLResponse:
        """Candlestick chart of stored bars (any bar spec) with buy / sell volume, as an HTML page."""
        from cde_bars.bar_chart import bars_page

        frame, subtitle = _bars(request, spec_id, exchange, market, symbol, start, end, max_bars)
        page = bars_page(frame, title=f"{symbol} {spec_id}", subtitle=subtitle)
        return HTMLResponse(page.render(PlotlyScript.server()))

    @router.get("/{spec_id}/{exchange}/{market}/{symbol}/data")
    def candlestick_data(request: Request, spec_id: Name, exchange: Name, market: Name, symbol: Name,
                         start: Start = None, end: End = None, max_bars: MaxBars = 5_000) -> dict[str, Any]:
        """The candlestick chart as plotly figure JSON (``charts.candles``), for front ends."""
        from cde_bars.bar_chart import bars_page

        frame, subtitle = _bars(request, spec_id, exchange, market, symbol, start, end, max_bars)
        page = bars_page(frame, title=f"{symbol} {spec_id}", subtitle=subtitle)
        return {"title": page.title, "subtitle": subtitle, "charts": page.charts()}

    app.include_router(router)
