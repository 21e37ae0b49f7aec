"""``check_strategy``: prove a strategy keeps the :class:`cde_core.contracts.strategy.Strategy` contract."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from cde_core.contracts.strategy import Strategy
from cde_core.testing.checks_common import ContractViolation, assert_no_lookahead, assert_same, check_protocol
from cde_core.testing.synthetic import synthetic_panel


def check_strategy(strategy: Any, params: BaseModel | Mapping[str, Any] | None = None, *,
                   panel: pd.DataFrame | None = None, columns: Sequence[str] = (), seed: int = 0) -> pd.Series:
    """Raise :class:`ContractViolation` unless ``strategy`` satisfies its protocol and, on a small
    panel (default: 6 synthetic symbols × 200 bars, plus random values for the feature ``columns``
    it reads), returns a float Series on the panel's index without ±inf, deterministically, without
    changing its input and without looking ahead. Returns the weights."""
    check_protocol("strategies", Strategy, strategy)
    label = f"strategy '{strategy.name}'"
    if not isinstance(strategy.engine, str) or not strategy.engine:
        raise ContractViolation(f"{label}: engine must name a registered engine, got {strategy.engine!r}")
    p = strategy.Params.model_validate(params.model_dump() if isinstance(params, BaseModel) else dict(params or {}))
    frame = synthetic_panel(6, 200, seed=seed) if panel is None else panel.copy()
    rng = np.random.default_rng(seed + 1)
    for column in columns:
        if column not in frame.columns:
            frame[column] = rng.normal(size=len(frame))

    def run(data: pd.DataFrame) -> pd.DataFrame:
        weights = strategy.target_weights(data, p)
        if not isinstance(weights, pd.Series):
            raise ContractViolation(f"{label}: target_weights must return a Series, got {type(weights).__name__}")
        if not weights.index.equals(data.index):
            raise ContractViolation(f"{label}: target_weights must return a Series on the panel's index")
        values = weights.to_numpy(dtype=np.float64)
        if np.isinf(values).any():
            raise ContractViolation(f"{label}: target_weights returned ±inf")
        return weights.astype(np.float64).to_frame("weight")

    before = frame.copy()
    full = run(frame)
    pd.testing.assert_frame_equal(frame, before, obj=f"{label} changed its input")
    assert_same(full, run(frame.copy()), f"{label} is not deterministic")
    assert_no_lookahead(run, frame, full, label, seed=seed)
    return full["weight"]
