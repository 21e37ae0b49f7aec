"""Live asset pool: today's top-N pairs by 24h quote volume, through ccxt's unified API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from cde_core.config import DownloadConfig, get_config
from cde_core.errors import NotFoundError, RemoteError
from cde_exchanges.universe.ccxt_client import LIVE_EXCHANGES, LIVE_MARKETS, create_exchange
from cde_exchanges.universe.exclusions import exclusion_reason


class LiveTopRequest(BaseModel):
    """Which pool to rank (shared by the CLI and any API route)."""

    exchange: str = Field("binance", description="binance or okx")
    market: str = Field("spot", description="market; the live pool serves spot")
    quote: str = Field("USDT", description="quote asset of the pairs to rank")
    n: int = Field(20, ge=1, le=1000, description="how many pairs to keep")


class RankedPair(BaseModel):
    rank: int
    symbol: str = Field(description="exchange-native symbol (BTCUSDT, BTC-USDT), as the archives name it")
    base: str
    quote: str
    quote_volume: float = Field(description="24h volume in the quote asset")


class ExcludedPair(BaseModel):
    symbol: str
    reason: str


class LiveTopResult(BaseModel):
    exchange: str
    market: str
    quote: str
    pairs: list[RankedPair]
    excluded: list[ExcludedPair] = Field(description="pairs in the quote asset left out, with the rule")


def _call(exchange: Any, method: str, **kwargs: Any) -> Any:
    import ccxt

    try:
        return getattr(exchange, method)(**kwargs)
    except ccxt.BaseError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise RemoteError(f"{exchange.id} {method} failed: {type(exc).__name__}: {first}",
                          where=str(exchange.urls["api"].get("public", exchange.urls["api"].get("rest"))),
                          hint="check the network and download.*_api_url in `cde config show`") from exc


def live_top_pairs(request: LiveTopRequest, config: DownloadConfig | None = None) -> LiveTopResult:
    """Rank the exchange's active spot pairs in ``request.quote`` by 24h quote volume.

    Exclusions follow :func:`cde_exchanges.universe.exclusions.exclusion_reason` (inactive,
    stablecoin or fiat base, leveraged token); ties break by symbol so the answer is deterministic.
    """
    if request.market not in LIVE_MARKETS:
        raise NotFoundError(f"no live asset pool for market '{request.market}'", where=request.exchange,
                            hint=f"use --market {' or '.join(LIVE_MARKETS)}")
    if request.exchange not in LIVE_EXCHANGES:
        raise NotFoundError(f"no live asset pool for exchange '{request.exchange}'",
                            hint=f"choose one of {', '.join(LIVE_EXCHANGES)}")
    exchange = create_exchange(request.exchange, config or get_config().download)
    markets = _call(exchange, "load_markets")
    params = {"instType": "SPOT"} if request.exchange == "okx" else {}
    tickers = _call(exchange, "fetch_tickers", params=params)

    spot = [m for m in markets.values() if m.get("spot")]
    known_bases = {m["base"] for m in spot}
    quote = request.quote.upper()
    candidates: list[tuple[float, str, dict[str, Any]]] = []
    excluded: list[ExcludedPair] = []
    for market in spot:
        if market["quote"] != quote:
            continue
        reason = exclusion_reason(market["base"], active=market.get("active") is not False,
                                  known_bases=known_bases)
        volume = (tickers.get(market["symbol"]) or {}).get("quoteVolume")
        if reason is None and volume is None:
            reason = "no 24h quote volume"
        if reason is not None:
            excluded.append(ExcludedPair(symbol=market["id"], reason=reason))
            continue
        candidates.append((-float(volume or 0.0), market["id"], market))
    candidates.sort(key=lambda c: (c[0], c[1]))
    pairs = [RankedPair(rank=i + 1, symbol=sym, base=m["base"], quote=m["quote"], quote_volume=-neg)
             for i, (neg, sym, m) in enumerate(candidates[: request.n])]
    return LiveTopResult(exchange=request.exchange, market=request.market, quote=quote, pairs=pairs,
                         excluded=sorted(excluded, key=lambda e: e.symbol))
