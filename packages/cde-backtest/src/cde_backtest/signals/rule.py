"""Rule signals: thresholds and crossovers declared as text, e.g. ``rsi_14 < 30`` or
``sma_24 crosses_above sma_96``.

A condition is ``<column> <op> <column or number>`` with ``op`` one of ``< <= > >= == !=
crosses_above crosses_below``. A crossover holds on the bar where the left side moves from ≤ to >
(or ≥ to <) the right side, compared with the same symbol's previous bar, so it never looks ahead.
The signal is +1 where every ``long_when`` condition holds, −1 where every ``short_when`` holds
(long wins when both), else 0 — or, with ``hold``, the last non-zero entry persists until an
``exit_when`` condition holds.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cde_backtest.signals.panel_io import column_wide, to_long
from cde_core.errors import ConfigError

_COMPARE: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    ">": operator.gt,
}
_CONDITION = re.compile(r"^\s*([A-Za-z_][\w.]*)\s+(crosses_above|crosses_below|<=|>=|==|!=|<|>)\s+(\S+)\s*$")


def parse_condition(text: str) -> tuple[str, str, str | float]:
    """``"rsi_14 < 30"`` → ``("rsi_14", "<", 30.0)``; raises ConfigError on anything else."""
    match = _CONDITION.match(text)
    if not match:
        raise ConfigError(f"cannot parse rule condition '{text}'", where="rule signal",
                          hint="write '<column> <op> <column or number>', op one of < <= > >= == != "
                               "crosses_above crosses_below")
    left, op, right = match.groups()
    try:
        return left, op, float(right)
    except ValueError:
        return left, op, right


class RuleSignalParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    long_when: list[str] = Field(default_factory=list, description="all must hold to be long (+1)")
    short_when: list[str] = Field(default_factory=list, description="all must hold to be short (−1)")
    exit_when: list[str] = Field(default_factory=list, description="with hold: any of these exits to 0")
    hold: bool = Field(False, description="keep the last entry until an exit condition (else 0 when no "
                       "entry condition holds)")

    @field_validator("long_when", "short_when", "exit_when")
    @classmethod
    def _parse(cls, conditions: list[str]) -> list[str]:
        for condition in conditions:
            parse_condition(condition)
        return conditions


def evaluate(features: pd.DataFrame, condition: str) -> tuple[np.ndarray, pd.DataFrame]:
    """A condition as a (T, N) bool array (NaN inputs → False) and the wide frame it aligns to."""
    left, op, right = parse_condition(condition)
    lhs_frame = column_wide(features, left, where=f"rule '{condition}'")
    lhs = lhs_frame.to_numpy()
    if isinstance(right, float):
        rhs = np.full(lhs.shape, right)
    else:
        rhs = column_wide(features, right, where=f"rule '{condition}'").reindex_like(lhs_frame).to_numpy()
    with np.errstate(invalid="ignore"):
        if op in _COMPARE:
            out = _COMPARE[op](lhs, rhs)
        else:
            diff = lhs - rhs
            prev = np.vstack([np.full((1, diff.shape[1]), np.nan), diff[:-1]])
            out = (prev <= 0) & (diff > 0) if op == "crosses_above" else (prev >= 0) & (diff < 0)
    return out & ~np.isnan(lhs) & ~np.isnan(rhs), lhs_frame


def _all(features: pd.DataFrame, conditions: list[str]) -> tuple[np.ndarray | None, pd.DataFrame | None]:
    result, frame = None, None
    for condition in conditions:
        value, frame = evaluate(features, condition)
        result = value if result is None else result & value
    return result, frame


class RuleSignal:
    name = "rule"
    summary = "thresholds and crossovers declared in config (e.g. 'rsi_14 < 30') → +1 / −1 / 0"
    Params: ClassVar[type[BaseModel]] = RuleSignalParams

    def generate(self, features: pd.DataFrame, params: BaseModel) -> pd.Series:
        p = RuleSignalParams.model_validate(params.model_dump())
        longs, frame_l = _all(features, p.long_when)
        shorts, frame_s = _all(features, p.short_when)
        frame = frame_l if frame_l is not None else frame_s
        if frame is None:
            raise ConfigError("rule signal has no conditions", where="rule signal",
                              hint="set long_when and/or short_when")
        zeros = np.zeros(frame.shape, dtype=bool)
        longs = zeros if longs is None else longs
        shorts = zeros if shorts is None else shorts
        entry = np.where(longs, 1.0, np.where(shorts, -1.0, 0.0))
        if p.hold:
            exits = np.zeros(frame.shape, dtype=bool)
            for condition in p.exit_when:
                exits |= evaluate(features, condition)[0]
            # entries and exits are events; between them the last event persists
            events = np.where(entry != 0, entry, np.where(exits, 0.0, np.nan))
            entry = pd.DataFrame(events).ffill().fillna(0.0).to_numpy()
        return to_long(entry, frame, features.index).rename(self.name)
