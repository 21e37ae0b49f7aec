"""The trade log: one row per fill (time, symbol, side, qty, price, notional, fee, slippage, reason).

``price`` is the market reference price of the fill (open, close or stop level); ``slippage`` is the
money lost to slippage on top of it, so the effective price is ``price ± slippage / qty``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: fill reasons, indexed by the kernel's REASON_* codes (kept here so reading a log needs no Numba)
REASONS = ("rebalance", "stop_loss", "take_profit", "risk_stop", "delisted")

TRADE_COLUMNS = ["ts", "symbol", "side", "qty", "price", "notional", "fee", "slippage", "reason"]


def trade_log_frame(arrays: tuple[np.ndarray, ...], index: pd.DatetimeIndex, symbols: list[str]) -> pd.DataFrame:
    """Build the trade log from the kernel's record arrays."""
    t, i, dq, price, fee, slip, reason = arrays[:7]
    return pd.DataFrame({
        "ts": index[t],
        "symbol": pd.Categorical.from_codes(i, categories=symbols) if len(symbols) else pd.Categorical([]),
        "side": np.where(dq > 0, "buy", "sell"),
        "qty": np.abs(dq),
        "price": price,
        "notional": np.abs(dq) * price,
        "fee": fee,
        "slippage": slip,
        "reason": pd.Categorical.from_codes(reason.astype(np.int64), categories=list(REASONS)),
    }, columns=TRADE_COLUMNS)
