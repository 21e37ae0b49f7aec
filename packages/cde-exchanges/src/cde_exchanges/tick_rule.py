"""The tick rule: which side started a trade, when a file does not say (``cde import`` without
``is_buyer_maker`` or ``side``).

A trade above the previous trade's price was a buy by the taker (``is_buyer_maker`` false), below it a
sell (true); at the same price it keeps the previous trade's side (Lee & Ready 1991; mlfinlab's
``tick_rule``). The first trade of an import, and trades at its price before the first change, count
as buys: there is nothing to compare them with. The state carries across batches, files and days, so
the classification does not depend on how the stream is cut. Vectorised: no per-trade Python.
"""

from __future__ import annotations

import numpy as np


class TickRule:
    def __init__(self) -> None:
        self.last_price: float | None = None
        self.last_side = 1  # +1 buyer-initiated, -1 seller-initiated

    def is_buyer_maker(self, price: np.ndarray) -> np.ndarray:
        """``is_buyer_maker`` of the next trades at ``price`` (their order is the stream's)."""
        n = len(price)
        if n == 0:
            return np.zeros(0, dtype=bool)
        before = price[0] if self.last_price is None else self.last_price
        sign = np.sign(np.diff(price, prepend=before)).astype(np.int8)
        moved = np.where(sign != 0, np.arange(n), -1)
        last_move = np.maximum.accumulate(moved)
        side = np.where(last_move >= 0, sign[np.maximum(last_move, 0)], np.int8(self.last_side))
        self.last_price, self.last_side = float(price[-1]), int(side[-1])
        return side < 0
