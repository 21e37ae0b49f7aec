"""Risk management: exposure limits on target weights, and a max-drawdown stop.

Limits are applied to each decision row before execution (vectorised): weights are clipped per
asset, then the whole row is scaled down so that gross and |net| exposure stay within bounds, and
gross never exceeds ``max_leverage`` (10× by default, so a sizing mistake such as weights of 50/n
cannot silently run a 50× book). With ``on_limit: refuse`` a row that breaks a limit stops the run
instead (:func:`cde_backtest.portfolio.simulate` names the bar); either way the run's report says
how many rows were scaled.
The drawdown stop is path dependent, so it runs inside the simulation kernel: when NAV at a bar's
close falls ``max_drawdown`` below its running peak, every position is closed at the next fill
(reason ``risk_stop``) and the strategy stays flat for the rest of the run.
Plug in another manager by passing any object with ``apply(rows)`` and ``max_drawdown`` to the engine.
"""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class RiskParams(BaseModel):
    """Exposure limits (fractions of NAV) and the drawdown stop."""

    model_config = ConfigDict(extra="forbid")

    max_weight: float | None = Field(None, gt=0, description="largest |weight| of one asset")
    max_gross: float | None = Field(None, gt=0, description="largest Σ|weight|")
    max_net: float | None = Field(None, ge=0, description="largest |Σ weight|")
    max_leverage: float | None = Field(10.0, gt=0, description="hard ceiling of Σ|weight| (gross leverage), "
                                       "applied after max_gross; null: none")
    on_limit: Literal["scale", "refuse"] = Field(
        "scale", description="a target row beyond a limit: scale it into the limits (reported in the run), "
        "or refuse to run, naming the bar")
    allow_short: bool = Field(True, description="negative weights allowed; if false they become 0")
    max_drawdown: float | None = Field(None, gt=0, lt=1, description="close everything and stop trading "
                                       "once NAV falls this far below its peak (0.2 = 20 %)")


class RiskManager(Protocol):
    """Adjusts target weight rows; ``max_drawdown`` (or None) is enforced by the kernel. A manager
    with a true ``refuse`` attribute makes any adjustment an error instead."""

    max_drawdown: float | None

    def apply(self, rows: np.ndarray) -> np.ndarray:
        """Target weight rows of the decision bars (NaN = no order) → adjusted rows."""
        ...


class LimitsRiskManager:
    """Clip per asset, forbid shorts if asked, then scale rows into gross / net bounds."""

    def __init__(self, params: RiskParams) -> None:
        self.params = params
        self.max_drawdown = params.max_drawdown
        self.refuse = params.on_limit == "refuse"

    def apply(self, rows: np.ndarray) -> np.ndarray:
        p = self.params
        if not p.allow_short:
            rows = np.where(rows < 0, 0.0, rows)
        if p.max_weight is not None:
            rows = np.clip(rows, -p.max_weight, p.max_weight)
        scale = np.ones(len(rows))
        filled = np.nan_to_num(rows)
        gross = np.abs(filled).sum(axis=1)
        for ceiling in (p.max_gross, p.max_leverage):
            if ceiling is not None:
                scale = np.minimum(scale, np.where(gross > ceiling, ceiling / np.maximum(gross, 1e-300), 1.0))
        if p.max_net is not None:
            net = np.abs(filled.sum(axis=1)) * scale
            scale = scale * np.where(net > p.max_net, p.max_net / np.maximum(net, 1e-300), 1.0)
        return rows * scale[:, None]
