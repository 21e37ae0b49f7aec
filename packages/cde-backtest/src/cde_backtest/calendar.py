"""Rebalance calendars: which bars are decision bars.

A decision is taken on the *last bar of each calendar period* (the bar whose successor opens in a new
period), so with next-open execution the orders fill at the first bar at or after the boundary:
a weekly Monday-00:00 schedule on hourly bars decides on the Sunday 23:00 bar (using its close) and
trades at the Monday 00:00 open. The final bar of the data never decides (nothing could fill).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

_HOUR_NS = 3_600_000_000_000
_DAY_NS = 24 * _HOUR_NS
_WEEK_NS = 7 * _DAY_NS
# 1970-01-01 was a Thursday: shift so that week periods start on Monday (weekday 0)
_EPOCH_WEEKDAY = 3


class RebalanceSchedule(BaseModel):
    """When the portfolio is rebalanced to the strategy's target weights."""

    model_config = ConfigDict(extra="forbid")

    every: Literal["bar", "day", "week", "month"] = Field(
        "week", description="rebalance period: every bar, daily, weekly or monthly")
    weekday: int = Field(0, ge=0, le=6, description="weekly: weekday the new period starts (0 = Monday)")
    hour: int = Field(0, ge=0, le=23, description="hour (UTC) at which a day/week/month period starts")
    day: int = Field(1, ge=1, le=28, description="monthly: day of month the new period starts")


def period_keys(ts_ns: np.ndarray, schedule: RebalanceSchedule) -> np.ndarray:
    """An integer per bar that changes exactly when a new calendar period starts."""
    ts = np.asarray(ts_ns, dtype=np.int64)
    if schedule.every == "bar":
        return np.arange(len(ts), dtype=np.int64)
    shifted = ts - schedule.hour * _HOUR_NS
    if schedule.every == "day":
        return np.floor_divide(shifted, _DAY_NS)
    if schedule.every == "week":
        offset = ((schedule.weekday - _EPOCH_WEEKDAY) % 7) * _DAY_NS
        return np.floor_divide(shifted - offset, _WEEK_NS)
    shifted = shifted - (schedule.day - 1) * _DAY_NS
    months = shifted.astype("datetime64[ns]").astype("datetime64[M]").astype(np.int64)
    return months


def decision_mask(ts_ns: np.ndarray, schedule: RebalanceSchedule) -> np.ndarray:
    """True on each period's last bar (never on the final bar of the data)."""
    keys = period_keys(ts_ns, schedule)
    mask = np.zeros(len(keys), dtype=np.bool_)
    if len(keys) > 1:
        mask[:-1] = keys[1:] != keys[:-1]
    return mask
