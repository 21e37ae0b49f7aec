"""Exchange adapters: public tick archives → canonical trades in the lake."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from cde_core.lake_paths import LakeName

ArchiveKind = Literal["trades", "aggTrades", "klines", "fundingRate"]


class ArchiveRequest(BaseModel):
    """Which archive files to fetch: one exchange, one market, one kind, symbols × days."""

    exchange: LakeName = Field(description="registered exchange name, e.g. binance or okx")
    market: LakeName = Field(description="market of the exchange, e.g. spot, um, cm, swap")
    kind: ArchiveKind = Field(default="trades", description="archive kind")
    symbols: list[LakeName] = Field(min_length=1, description="exchange symbols, e.g. BTCUSDT")
    start: date = Field(description="first day, inclusive (UTC)")
    end: date = Field(description="last day, inclusive (UTC)")


@runtime_checkable
class Exchange(Protocol):
    """An exchange whose public archives cde can download.

    ``markets`` lists the market names it serves. ``download`` fetches, verifies and writes the
    requested days into the lake and returns a report (a pydantic model); it must be resumable and
    must never leave a partial partition that looks complete.
    """

    name: str
    summary: str
    Params: ClassVar[type[BaseModel]]
    markets: tuple[str, ...]

    def download(self, request: ArchiveRequest, **context: Any) -> BaseModel: ...
