"""Intraday and weekday seasonality (Heston, Korajczyk & Sadka 2010, *Intraday patterns in the
cross section of stock returns*; Keloharju, Linnainmaa & Nyberg 2016 for calendar seasonalities):
a symbol's return in the coming slot is predicted by its returns in the same slot on past cycles.

Slots are counted in bars, so these factors assume regular time bars (``period`` = bars per day:
24 for 1 h bars, 6 for 4 h bars). Both look only at past cycles: the value at bar t averages returns
that ended at or before t.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model

from cde_features.factor_base import Arrays, TimeSeriesFactor
from cde_features.returns import lagged, log_returns_of

DAYS_PER_WEEK = 7


def season_params(cycles: int, unit: str) -> type[BaseModel]:
    """Parameters ``period`` (bars per day) and ``cycles`` (past days or weeks averaged)."""
    return create_model(
        f"Season{cycles}{unit.capitalize()}Params",
        __config__=ConfigDict(extra="forbid"),
        period=(int, Field(24, ge=1, le=10_000, description="bars per day (24 for 1 h bars)")),
        cycles=(int, Field(cycles, ge=1, le=10_000, description=f"past {unit} averaged")),
    )


class _Seasonality(TimeSeriesFactor):
    group = "seasonality"
    inputs = ("close",)
    prefix = ""

    def cycle(self, period: int) -> int:
        """Bars per cycle."""
        raise NotImplementedError

    def lookback(self, params: BaseModel) -> int:
        p = self.params(params)
        return self.cycle(p.period) * p.cycles

    def columns(self, params: BaseModel) -> list[str]:
        p = self.params(params)
        return [f"{self.prefix}_{p.period}_{p.cycles}"]


class HourOfDaySeasonality(_Seasonality):
    """Hour-of-day seasonality: the mean 1-bar log return of the bars in the same time-of-day slot as
    the *next* bar on each of the last ``cycles`` days, ``mean_k r_{t+1−k·period}``."""

    name = "season_hod"
    summary = "mean past return of the coming bar's time-of-day slot over the last `cycles` days"
    prefix = "season_hod"
    Params: ClassVar[type[BaseModel]] = season_params(28, "days")

    def cycle(self, period: int) -> int:
        return period

    def compute_arrays(self, data: Arrays, params: BaseModel) -> list[np.ndarray]:
        from cde_features.kernels.quant import lagged_mean

        p = self.params(params)
        return [lagged_mean(np.ascontiguousarray(log_returns_of(data)), 1, p.period, p.cycles)]


class DayOfWeekSeasonality(_Seasonality):
    """Day-of-week seasonality: the mean log return over the coming ``period`` bars (the next day)
    on the same weekday of each of the last ``cycles`` weeks, ``mean_k ln(C_{t+P−7Pk} / C_{t−7Pk})``."""

    name = "season_dow"
    summary = "mean past return of the coming day's weekday over the last `cycles` weeks"
    prefix = "season_dow"
    Params: ClassVar[type[BaseModel]] = season_params(4, "weeks")

    def cycle(self, period: int) -> int:
        return DAYS_PER_WEEK * period

    def compute_arrays(self, data: Arrays, params: BaseModel) -> list[np.ndarray]:
        from cde_features.kernels.quant import lagged_mean

        p = self.params(params)
        close = data["close"]
        with np.errstate(divide="ignore", invalid="ignore"):
            day_returns = np.ascontiguousarray(np.log(close / lagged(close, p.period)))
        return [lagged_mean(day_returns, p.period, self.cycle(p.period), p.cycles)]


#: the factors of this module, as registered by cde_features.catalog
FACTORS: tuple[type, ...] = (HourOfDaySeasonality, DayOfWeekSeasonality)
