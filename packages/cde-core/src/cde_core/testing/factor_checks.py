"""``check_factor``: prove a factor keeps the :class:`cde_core.contracts.factor.Factor` contract."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from cde_core.contracts.factor import Factor
from cde_core.testing.checks_common import ContractViolation, assert_no_lookahead, assert_same, check_protocol
from cde_core.testing.synthetic import synthetic_bars, synthetic_panel


def check_factor(factor: Any, params: BaseModel | Mapping[str, Any] | None = None, *,
                 bars: pd.DataFrame | None = None, seed: int = 0) -> pd.DataFrame:
    """Raise :class:`ContractViolation` unless ``factor`` satisfies its protocol, is deterministic,
    returns exactly ``columns(params)`` on the input's index, reads only its declared ``inputs`` (a
    time-series factor gets nothing else), leaves its input unchanged, and never looks ahead
    (values up to a time do not change when later bars are removed or changed).

    ``bars``: one symbol's bars indexed by ``ts`` (or a ``(ts, symbol)`` panel for a
    cross-sectional factor); default: synthetic ones. Returns the factor's output on them.
    """
    check_protocol("factors", Factor, factor)
    label = f"factor '{factor.name}'"
    p = factor.Params.model_validate(params.model_dump() if isinstance(params, BaseModel) else dict(params or {}))
    columns = factor.columns(p)
    if (not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns)
            or len(set(columns)) != len(columns)):
        raise ContractViolation(f"{label}: columns(params) must be a non-empty list of distinct strings, "
                                f"got {columns!r}")
    if factor.columns(p) != columns:
        raise ContractViolation(f"{label}: columns(params) is not deterministic")
    lookback = factor.lookback(p)
    if not isinstance(lookback, (int, np.integer)) or isinstance(lookback, bool) or lookback < 0:
        raise ContractViolation(f"{label}: lookback(params) must be an int ≥ 0, got {lookback!r}")
    frame = _input_frame(factor, p, bars, seed, int(lookback))

    def run(data: pd.DataFrame) -> pd.DataFrame:
        out = factor.compute(data, p)
        if not isinstance(out, pd.DataFrame):
            raise ContractViolation(f"{label}: compute must return a DataFrame, got {type(out).__name__}")
        if list(out.columns) != columns:
            raise ContractViolation(f"{label}: compute returned columns {list(out.columns)}, "
                                    f"columns(params) declares {columns}")
        if not out.index.equals(data.index):
            raise ContractViolation(f"{label}: compute must return the input's index ({len(data)} rows), "
                                    f"got {len(out)} rows on another index")
        return out.astype(np.float64)

    before = frame.copy()
    full = run(frame)
    pd.testing.assert_frame_equal(frame, before, obj=f"{label} changed its input")
    assert_same(full, run(frame.copy()), f"{label} is not deterministic")
    if full.iloc[int(lookback):].isna().all().all() and len(full) > lookback:
        raise ContractViolation(f"{label}: every value after the {lookback}-bar warm-up is NaN")
    assert_no_lookahead(run, frame, full, label, seed=seed)
    return full


def _input_frame(factor: Any, params: BaseModel, bars: pd.DataFrame | None, seed: int,
                 lookback: int) -> pd.DataFrame:
    """Exactly the declared inputs for a time-series factor; a panel (bars plus any other column the
    factor reads, as random values) for a cross-sectional one."""
    inputs = list(factor.grid_inputs(params)) if hasattr(factor, "grid_inputs") else list(factor.inputs)
    if getattr(factor, "cross_sectional", False):
        frame = synthetic_panel(6, max(240, 2 * lookback + 60), seed=seed) if bars is None else bars.copy()
    else:
        frame = synthetic_bars(max(400, 2 * lookback + 100), seed=seed) if bars is None else bars.copy()
    rng = np.random.default_rng(seed + 1)
    for column in inputs:
        if column not in frame.columns:
            frame[column] = rng.normal(size=len(frame))
    if not getattr(factor, "cross_sectional", False):  # what the calculator passes: float64 inputs only
        frame = frame[list(dict.fromkeys(inputs))].astype(np.float64)
    return frame
