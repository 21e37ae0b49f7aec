"""Portfolio simulation: prepares the arrays, runs the kernel, wraps its output.

This is the one entry point both engines (and the benchmark) call, so every engine shares the same
accounting: cash, quantities, marks, fees, slippage, funding and the trade log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from cde_backtest.costs import CostModel
from cde_backtest.market import MarketArrays, delisting_spans, forward_fill
from cde_backtest.risk import RiskManager
from cde_backtest.trade_log import trade_log_frame
from cde_core.errors import DataError

Execution = Literal["next_open", "close"]


@dataclass
class Simulation:
    """Raw result arrays of one simulation (time × asset), plus helpers to view them as frames."""

    market: MarketArrays
    initial_cash: float
    nav: np.ndarray
    cash: np.ndarray
    pnl: np.ndarray
    fees: np.ndarray
    slippage: np.ndarray
    funding: np.ndarray
    traded: np.ndarray
    gross: np.ndarray
    net: np.ndarray
    asset_pnl: np.ndarray
    asset_cost: np.ndarray
    asset_funding: np.ndarray
    trade_arrays: tuple[np.ndarray, ...]
    limits: LimitAdjustments | None = None
    _trades: pd.DataFrame | None = field(default=None, repr=False)
    _qty: np.ndarray | None = field(default=None, repr=False)
    _marks: np.ndarray | None = field(default=None, repr=False)

    @property
    def qty(self) -> np.ndarray:
        """End-of-bar quantities (T, N), rebuilt from the position after each fill (exact)."""
        if self._qty is None:
            t, i, after = self.trade_arrays[0], self.trade_arrays[1], self.trade_arrays[7]
            dense = np.full(self.market.shape, np.nan)
            dense[t, i] = after  # fills are in time order: the last fill of a bar wins
            dense[0] = np.where(np.isnan(dense[0]), 0.0, dense[0])
            self._qty = forward_fill(dense)
        return self._qty

    @property
    def marks(self) -> np.ndarray:
        """Valuation prices: the last known close of each asset (NaN before its first bar)."""
        if self._marks is None:
            self._marks = forward_fill(self.market.close)
        return self._marks

    @property
    def index(self) -> pd.DatetimeIndex:
        return self.market.index

    def nav_frame(self) -> pd.DataFrame:
        """Per-bar NAV and its decomposition (what ``nav.parquet`` holds)."""
        prev = np.concatenate([[self.initial_cash], self.nav[:-1]])
        with np.errstate(divide="ignore", invalid="ignore"):
            returns = self.nav / prev - 1.0
            turnover = self.traded / prev
        return pd.DataFrame({"nav": self.nav, "returns": returns, "cash": self.cash, "pnl": self.pnl,
                             "fees": self.fees, "slippage": self.slippage, "funding": self.funding,
                             "traded": self.traded, "turnover": turnover, "gross": self.gross,
                             "net": self.net}, index=self.index)

    def positions_frame(self) -> pd.DataFrame:
        """End-of-bar quantities, wide (ts × symbol)."""
        return pd.DataFrame(self.qty, index=self.index, columns=pd.Index(self.market.symbols, name="symbol"))

    def weights_frame(self) -> pd.DataFrame:
        """End-of-bar weights (value / NAV), wide."""
        with np.errstate(invalid="ignore"):
            values = np.where(self.qty != 0.0, self.qty * self.marks, 0.0)
        return pd.DataFrame(values / self.nav[:, None], index=self.index,
                            columns=pd.Index(self.market.symbols, name="symbol"))

    def trades(self) -> pd.DataFrame:
        if self._trades is None:
            self._trades = trade_log_frame(self.trade_arrays, self.index, self.market.symbols)
        return self._trades

    def contributions(self) -> pd.DataFrame:
        """Per-asset P&L: price P&L, costs, funding and their sum (Σ total = final NAV − initial)."""
        return pd.DataFrame({"pnl": self.asset_pnl, "costs": self.asset_cost, "funding": self.asset_funding,
                             "total": self.asset_pnl - self.asset_cost + self.asset_funding},
                            index=pd.Index(self.market.symbols, name="symbol"))


@dataclass(frozen=True)
class LimitAdjustments:
    """What the risk manager changed in the target rows: how many decision rows, the first one's bar,
    and the largest gross exposure asked for and allowed."""

    rows_changed: int
    rows: int
    first_ts: pd.Timestamp
    requested_gross: float
    allowed_gross: float

    def sentence(self) -> str:
        return (f"{self.rows_changed} of {self.rows} decision rows exceeded the risk limits and were scaled "
                f"(first at {self.first_ts:%Y-%m-%d %H:%M} UTC; largest gross asked {self.requested_gross:,.2f}, "
                f"allowed {self.allowed_gross:,.2f})")


def limit_adjustments(before: np.ndarray, after: np.ndarray, decide: np.ndarray,
                      index: pd.DatetimeIndex) -> LimitAdjustments | None:
    """Compare target rows before and after the risk manager (NaN = no order on both sides)."""
    changed = ~np.isclose(before, after, rtol=1e-12, atol=0.0, equal_nan=True).all(axis=1)
    if not changed.any():
        return None
    gross_before = np.abs(np.nan_to_num(before)).sum(axis=1)
    gross_after = np.abs(np.nan_to_num(after)).sum(axis=1)
    worst = int(np.argmax(np.where(changed, gross_before, -1.0)))
    return LimitAdjustments(rows_changed=int(changed.sum()), rows=len(before),
                            first_ts=index[np.flatnonzero(decide)[int(np.argmax(changed))]],
                            requested_gross=float(gross_before[worst]), allowed_gross=float(gross_after[worst]))


def _capacity(rows: np.ndarray, n_assets: int) -> int:
    """Room for every fill: each order fills at most once (the drawdown stop adds one per asset), and
    each stop or delisting exit closes a position some order opened, so at most doubles the count."""
    orders = int(np.count_nonzero(~np.isnan(rows))) + n_assets
    return 2 * orders + n_assets + 1


def simulate(
    market: MarketArrays,
    rows: np.ndarray,
    decide: np.ndarray,
    *,
    costs: CostModel,
    risk: RiskManager | None = None,
    execution: Execution = "next_open",
    initial_cash: float = 1_000_000.0,
    stop_loss: float | None = None,
    take_profit: float | None = None,
    min_trade_value: float = 0.0,
    delist_after_bars: int | None = None,
) -> Simulation:
    """Trade target weights ``rows`` (one row per True in ``decide``, in order; NaN = keep that
    position) on the decision bars of ``market``; a position whose asset has had no bar for
    ``delist_after_bars`` of its usual bar spacings is closed at its last price (None: never)."""
    from cde_backtest.engines.kernel import simulate_kernel

    decide = np.asarray(decide, dtype=np.bool_)
    rows = np.ascontiguousarray(rows, dtype=np.float64).reshape(-1, market.shape[1])
    if len(rows) != int(decide.sum()):
        raise ValueError(f"{len(rows)} target rows for {int(decide.sum())} decision bars")
    limits = None
    if risk is not None:
        adjusted = np.ascontiguousarray(risk.apply(rows), dtype=np.float64)
        limits = limit_adjustments(rows, adjusted, decide, market.index)
        if limits is not None and getattr(risk, "refuse", False):
            raise DataError(f"target weights at {limits.first_ts:%Y-%m-%d %H:%M} UTC break the risk limits "
                            f"(gross {limits.requested_gross:,.2f}, allowed {limits.allowed_gross:,.2f}; "
                            f"{limits.rows_changed} of {limits.rows} decision rows)", where="engine.risk",
                            hint="fix the strategy's sizing, raise engine.risk limits, or set "
                                 "engine.risk.on_limit: scale")
        rows = adjusted
    row_of = np.where(decide, np.cumsum(decide) - 1, -1).astype(np.int64)
    rates = costs.rates(market)
    funding = market.funding if market.funding is not None else np.zeros((1, 1))
    qv = market.quote_volume if rates.impact > 0 else np.zeros((1, 1))
    delist_ns = delisting_spans(market, delist_after_bars)
    out = simulate_kernel(market.ts, market.open, market.high, market.low, market.close, rows, row_of, rates.fee_rate,
                          rates.slip_rate, float(rates.impact), qv, funding, float(initial_cash),
                          execution == "close",
                          float((risk.max_drawdown if risk is not None else None) or 0.0),
                          float(stop_loss or 0.0), float(take_profit or 0.0), float(min_trade_value),
                          delist_ns, _capacity(rows, market.shape[1]))
    (nav, cash, pnl, fees, slip, fund, traded, gross, net, a_pnl, a_cost, a_fund) = out[:12]
    return Simulation(market=market, initial_cash=float(initial_cash), nav=nav, cash=cash, pnl=pnl, fees=fees,
                      slippage=slip, funding=fund, traded=traded, gross=gross, net=net,
                      asset_pnl=a_pnl, asset_cost=a_cost, asset_funding=a_fund, trade_arrays=out[12:],
                      limits=limits)
