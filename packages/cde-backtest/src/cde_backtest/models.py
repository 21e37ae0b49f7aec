"""Request and result models at the backtest boundary (CLI, REST API, demo all use these)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cde_backtest.metrics import Metrics
from cde_core.lake_paths import LakeName
from cde_core.params_schema import params_of


class BacktestRequest(BaseModel):
    """Everything that defines one backtest; saved verbatim as the run's ``config.yaml``.

    ``params`` are validated against the strategy's ``Params`` model and ``engine`` against the
    ``Params`` of the engine the strategy names, so typos fail before any data is read.
    """

    model_config = ConfigDict(extra="forbid")

    strategy: str = Field(description="registered strategy name, e.g. momentum_ls")
    params: dict[str, Any] = Field(default_factory=dict, description="strategy parameters (the strategy's "
                                   "Params: one of the schemas below)", json_schema_extra=params_of("strategies"))
    engine: dict[str, Any] = Field(default_factory=dict, description="engine parameters (rebalance, costs, "
                                   "risk, execution, initial_cash …; the Params of the strategy's engine)",
                                   json_schema_extra=params_of("engines"))
    bars: LakeName = Field(description="bars spec id in the lake (bars/spec=<id>)")
    features: LakeName | None = Field(None, description="feature set id in the lake (features/spec=<id>)")
    exchange: LakeName = Field("binance", description="exchange partition")
    market: LakeName = Field("spot", description="market partition, e.g. spot or um")
    symbols: list[LakeName] | None = Field(None, description="symbols to load (None: every symbol in the lake)")
    start: datetime | None = Field(None, description="first bar (inclusive, UTC)")
    end: datetime | None = Field(None, description="end, UTC: a timestamp is an exclusive bound; a plain date "
                                 "(YYYY-MM-DD) includes that whole day, as in every other cde command")
    universe: dict[str, list[LakeName]] | None = Field(
        None, description="point-in-time universe: ISO date → member symbols (valid until the next date)")
    benchmark: LakeName | None = Field(None, description="benchmark symbol (None: equal-weight buy and hold)")
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_\-]*$", max_length=64,
                             description="label added to the run id (at most 64 characters)")

    @field_validator("end", mode="before")
    @classmethod
    def _whole_last_day(cls, value: Any) -> Any:
        """``end: 2024-03-31`` means through March 31, like `cde download --end` and `cde aggregate --end`."""
        if isinstance(value, str) and len(value) == 10:
            value = date.fromisoformat(value)
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime.combine(value + timedelta(days=1), time(0), tzinfo=UTC)
        return value

    @field_validator("symbols")
    @classmethod
    def _symbols_not_empty(cls, value: list[str] | None) -> list[str] | None:
        """``symbols: []`` (e.g. an empty filter result) would read as "every symbol": refused."""
        if value is not None and not value:
            raise ValueError("an empty list selects no symbol: name at least one, or leave symbols out (null) "
                             "for every symbol in the lake")
        return value

    @field_validator("universe")
    @classmethod
    def _universe_dates(cls, value: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        """Every key an ISO day (``2024-02-30`` is refused here, not by pandas deep in the run)."""
        for key in value or {}:
            try:
                date.fromisoformat(str(key))
            except ValueError:
                raise ValueError(f"universe date '{key}' is not a valid YYYY-MM-DD day") from None
        return value

    @model_validator(mode="after")
    def _range_not_empty(self) -> BacktestRequest:
        if self.start is not None and self.end is not None and _utc(self.end) <= _utc(self.start):
            raise ValueError(f"end {self.end:%Y-%m-%d %H:%M} is not after start {self.start:%Y-%m-%d %H:%M}")
        return self


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class RunResult(BaseModel):
    """What a finished backtest returns (and the task result over the API)."""

    run_id: str
    run_dir: str
    report: str
    strategy: str
    engine: str
    symbols: list[str]
    start: datetime | None
    end: datetime | None
    n_bars: int
    metrics: Metrics
    notices: list[str] = Field(default_factory=list, description="what the run did unasked: forced exits of "
                               "delisted symbols, weights scaled into the risk limits, a wiped-out NAV")


class RunSummary(BaseModel):
    """One line of ``cde backtest ls``."""

    run_id: str
    strategy: str
    created: datetime | None
    total_return: float | None
    sharpe: float | None
    max_drawdown: float | None
