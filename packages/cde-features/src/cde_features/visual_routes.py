"""``GET /visual/features/analysis``: the factor-analysis report as a page, and its charts as JSON.

The analysis runs in the request (read the features or compute them from the bars, then analyse),
so keep the selection small: a few columns, a few symbols, a bounded range.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import Field

from cde_core.lake import SAFE_VALUE_PATTERN
from cde_core.visual.names import lake_name
from cde_core.visual.plotly_asset import PlotlyScript, add_asset_route

Name = Annotated[str, Query(pattern=SAFE_VALUE_PATTERN, max_length=200)]
Horizon = Annotated[int, Field(ge=1, le=100_000)]
Symbol = Annotated[str, Field(pattern=SAFE_VALUE_PATTERN, max_length=200)]


def _analysis_page(request: Request, bars: str, features: str | None, columns: list[str], horizons: list[int],
                   quantiles: int, symbols: list[str], start: date | None, end: date | None, exchange: str,
                   market: str) -> Any:
    from pydantic import ValidationError

    from cde_core.errors import DataError, first_validation_problem
    from cde_features.analysis.report import analysis_page
    from cde_features.service import AnalyzeRequest, analyze_request

    try:
        body = AnalyzeRequest(bars=lake_name(bars, what="bar spec"),
                              features=lake_name(features, what="feature set") if features else None,
                              columns=columns, horizons=horizons, quantiles=quantiles,
                              symbols=[lake_name(s, what="symbol") for s in symbols], start=start, end=end,
                              exchange=lake_name(exchange, what="exchange"),
                              market=lake_name(market, what="market"))
    except ValidationError as exc:  # a rule across query values (an end before the start): 422, not 500
        key, message = first_validation_problem(exc, root="query")
        raise DataError(f"bad query: {message}", where=key, hint="fix the query parameters") from None
    result = analyze_request(body, lake=request.app.state.lake)
    return analysis_page(result, note=f"bars spec {bars}" + (f", features {features}" if features else ""))


def analysis_for(request: Request, bars: Name,
                 features: Annotated[str | None, Query(pattern=SAFE_VALUE_PATTERN, max_length=200,
                                                       description="features spec; none = compute")] = None,
                 columns: Annotated[list[str], Query(description="columns or globs (repeat)")] = [],  # noqa: B006
                 horizons: Annotated[list[Horizon], Query(description="horizons in bars (repeat)")] = [1, 24],  # noqa: B006
                 quantiles: Annotated[int, Query(ge=2, le=20)] = 5,
                 symbols: Annotated[list[Symbol], Query(description="symbols (repeat); none = all")] = [],  # noqa: B006
                 start: Annotated[date | None, Query(description="first day (UTC)")] = None,
                 end: Annotated[date | None, Query(description="last day (UTC), inclusive")] = None,
                 exchange: Name = "binance", market: Name = "spot") -> Any:
    """The analysis page for the query (a FastAPI dependency shared by the HTML and JSON routes)."""
    return _analysis_page(request, bars, features, columns, horizons, quantiles, symbols, start, end,
                          exchange, market)


Analysis = Annotated[Any, Depends(analysis_for)]


def add_visual_routes(app: FastAPI) -> None:
    add_asset_route(app)
    router = APIRouter(prefix="/visual/features", tags=["visual"])

    @router.get("/analysis", response_class=HTMLResponse)
    def analysis_html(page: Analysis) -> HTMLResponse:
        """Factor analysis (IC, IC decay, quantile returns and spreads, turnover) of lake features as a page."""
        return HTMLResponse(page.render(PlotlyScript.server()))

    @router.get("/analysis/data")
    def analysis_data(page: Analysis) -> dict[str, Any]:
        """The same analysis as plotly figure JSON by chart key, for front ends."""
        return {"title": page.title, "subtitle": page.subtitle, "charts": page.charts()}

    app.include_router(router)
