"""Round trips from the trade log, for the top winners and losers.

A round trip is one position in one symbol from the fill that opens it (from flat) to the fill that
brings it back to flat; a fill that flips a position closes one round trip and opens the next, its
quantity, fee and slippage split between them. P&L is the round trip's cash flows (price × qty, fees,
slippage; funding is not in the trade log) plus, for a position still open at the end, its value at
the last close. Vectorised per symbol: no loop over fills.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ["symbol", "side", "opened", "closed", "fills", "pnl", "return"]
REQUIRED = {"ts", "symbol", "side", "qty", "price", "fee", "slippage"}


def _split_flips(trades: pd.DataFrame) -> pd.DataFrame:
    """Signed quantities with every position flip split into a closing and an opening fill."""
    frame = trades.reset_index(drop=True)
    frame = frame.assign(dq=np.where(frame["side"].astype(str) == "buy", 1.0, -1.0) * frame["qty"].to_numpy(),
                         symbol=frame["symbol"].astype(str), order=np.arange(len(frame)))
    frame = frame.sort_values(["symbol", "order"], kind="stable")
    after = frame.groupby("symbol", sort=False)["dq"].cumsum().to_numpy()
    before = after - frame["dq"].to_numpy()
    scale = frame.groupby("symbol", sort=False)["qty"].transform("max").to_numpy() * 1e-9
    after = np.where(np.abs(after) <= scale, 0.0, after)
    before = np.where(np.abs(before) <= scale, 0.0, before)
    flip = np.sign(before) * np.sign(after) < 0
    frame = frame.assign(before=before, after=after)
    if flip.any():
        share = np.where(flip, np.abs(before) / np.maximum(np.abs(frame["dq"].to_numpy()), 1e-300), 1.0)
        closing = frame[flip].assign(dq=-frame["before"][flip], after=0.0)
        opening = frame[flip].assign(dq=frame["after"][flip], before=0.0)
        for part, weight in ((closing, share[flip]), (opening, 1.0 - share[flip])):
            part["fee"] = part["fee"] * weight
            part["slippage"] = part["slippage"] * weight
        closing["order"] = closing["order"] - 0.5  # the closing half comes first
        frame = pd.concat([frame[~flip], closing, opening]).sort_values(["symbol", "order"], kind="stable")
    return frame.reset_index(drop=True)


def round_trips(trades: pd.DataFrame, last_close: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per round trip: symbol, side, opened, closed (NaT while open), fills, pnl, return
    (P&L over the notional bought or sold to build the position)."""
    if trades.empty or not set(trades.columns) >= REQUIRED:
        return pd.DataFrame(columns=COLUMNS)
    frame = _split_flips(trades)
    opens = (frame["before"].to_numpy() == 0.0) & (frame["dq"].to_numpy() != 0.0)
    frame["trip"] = np.cumsum(opens)  # symbols are contiguous and each starts flat, so ids never span two
    frame = frame[frame["trip"] > 0]
    growing = np.abs(frame["after"].to_numpy()) > np.abs(frame["before"].to_numpy())
    frame = frame.assign(cash=-frame["dq"] * frame["price"] - frame["fee"] - frame["slippage"],
                         basis=np.where(growing, np.abs(frame["dq"]) * frame["price"], 0.0))
    grouped = frame.groupby("trip", sort=True)
    out = grouped.agg(symbol=("symbol", "first"), first_dq=("dq", "first"), opened=("ts", "first"),
                      last_ts=("ts", "last"), fills=("ts", "size"), cash=("cash", "sum"),
                      basis=("basis", "sum"), open_qty=("after", "last"))
    marks = out["symbol"].map(last_close or {}).astype(float)
    is_open = out["open_qty"] != 0.0
    pnl = out["cash"] + np.where(is_open, out["open_qty"] * marks, 0.0)
    result = pd.DataFrame({"symbol": out["symbol"], "side": np.where(out["first_dq"] > 0, "long", "short"),
                           "opened": out["opened"], "closed": out["last_ts"].where(~is_open),
                           "fills": out["fills"].astype(int), "pnl": pnl,
                           "return": pnl / out["basis"].where(out["basis"] > 0)})
    return result.reset_index(drop=True)[COLUMNS]


def winners_and_losers(trips: pd.DataFrame, n: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``n`` best round trips (P&L > 0, best first) and the ``n`` worst (P&L < 0, worst first)."""
    ranked = trips.dropna(subset=["pnl"]).sort_values("pnl", ascending=False, kind="stable")
    return ranked[ranked["pnl"] > 0].head(n), ranked[ranked["pnl"] < 0].iloc[::-1].head(n)
