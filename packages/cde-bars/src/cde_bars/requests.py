"""Request and report models of lake aggregation: what the CLI, the REST API and notebooks pass."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from cde_core.json_types import JsonDate, JsonInt
from cde_core.lake_paths import LakeName
from cde_core.params_schema import params_of

SymbolStatus = Literal["built", "resumed", "up-to-date", "no-data"]


#: trades per streamed batch. Why not larger: a batch's decoded columns (~41 bytes a trade) are
#: allocated afresh per batch; at 2^20 trades (~40 MB) the allocator keeps mapping new pages and the
#: kernel's page zeroing cost a third of the CPU of a cold run, while at 2^17 (one extraction row
#: group, ~5 MB) the same buffers are reused: 31 → 36 M trades per CPU-second end to end (dollar bars).
DEFAULT_BATCH_ROWS = 1 << 17


class AggregateRequest(BaseModel):
    """Build bars of one spec for symbols × days of the trades lake.

    Also the body of ``POST /bars/aggregate``: fields accept exactly the JSON types the schema names.
    """

    model_config = ConfigDict(extra="forbid")

    bar: str = Field(description="registered bar builder: time, tick, volume, dollar, tick_imbalance, …")
    params: dict[str, Any] = Field(default_factory=dict, description="the builder's parameters, e.g. "
                                   "{\"interval\": \"1h\"} or {\"threshold\": 1e7}",
                                   json_schema_extra=params_of("bar_builders"))
    exchange: LakeName = Field(description="exchange partition of the trades lake, e.g. binance")
    market: LakeName = Field(description="market partition, e.g. spot")
    symbols: list[LakeName] = Field(min_length=1, description="symbols to aggregate, e.g. BTCUSDT")
    start: JsonDate = Field(description="first trades day, inclusive (UTC)")
    end: JsonDate = Field(description="last trades day, inclusive (UTC)")
    flush: StrictBool = Field(False, description="also write the unfinished last bar (time bars: the last "
                              "interval is written anyway once the range covers its end)")
    batch_rows: JsonInt = Field(DEFAULT_BATCH_ROWS, ge=1024, le=1 << 24,
                                description="trades per streamed batch (bounds memory)")

    @model_validator(mode="after")
    def _check_range(self) -> AggregateRequest:
        if self.end < self.start:
            raise ValueError("end is before start")
        return self


class SymbolReport(BaseModel):
    """What aggregating one symbol did."""

    symbol: str
    status: SymbolStatus
    days: int = 0
    trades: int = Field(0, description="trades read in this run (0 when up to date)")
    bars: int = Field(0, description="bars written in this run")
    months: list[str] = Field(default_factory=list, description="month partitions written")
    resumed_from: str | None = Field(None, description="last complete month kept from an earlier run")
    missing_days: list[date] = Field(default_factory=list, description="days in [start, end] without a "
                                     "trades partition: no bars there (a gap, or outside the lake's days)")


class AggregateReport(BaseModel):
    """Result of :func:`cde_bars.aggregate.aggregate_lake`."""

    spec_id: str
    bar: str
    params: dict[str, Any]
    exchange: str
    market: str
    symbols: list[SymbolReport]
    seconds: float

    @property
    def trades(self) -> int:
        return sum(s.trades for s in self.symbols)

    @property
    def bars(self) -> int:
        return sum(s.bars for s in self.symbols)
