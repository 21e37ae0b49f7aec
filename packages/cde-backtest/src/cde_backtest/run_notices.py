"""What a run did on its own that the user did not ask for, said in the report, the CLI and the result.

Forced exits of delisted symbols, target weights scaled into the risk limits, and a NAV that fell to
zero or below all change the numbers a quant reads; none of them may pass silently. Kept apart from
the report's charts so the tear sheet can change without touching these rules.
"""

from __future__ import annotations

import numpy as np

from cde_backtest.portfolio import Simulation
from cde_core.number_format import format_number

_LISTED = 10


def run_notices(sim: Simulation) -> list[str]:
    """One sentence per unasked-for event of the run (empty when there was none)."""
    notices = []
    trades = sim.trades()
    forced = trades[trades["reason"].astype(str) == "delisted"]
    if len(forced):
        listed = "; ".join(f"{row.symbol} at {format_number(row.price)} on {row.ts:%Y-%m-%d %H:%M}"
                           for row in forced.head(_LISTED).itertuples())
        more = f" and {len(forced) - _LISTED} more" if len(forced) > _LISTED else ""
        notices.append(f"{len(forced)} forced exit(s): symbols without bars for engine.delist_after_bars of "
                       f"their bar spacings (delisted) were closed at their last price: {listed}{more} "
                       "(trade log reason 'delisted')")
    stale = _stale_at_end(sim)
    if stale:
        notices.append("open at the end but valued at an old close (no bar since): " + "; ".join(stale)
                       + " (engine.delist_after_bars closes such positions earlier)")
    if sim.limits is not None:
        notices.append(sim.limits.sentence() + " (engine.risk.on_limit: refuse stops such a run instead)")
    broke = np.flatnonzero(sim.nav <= 0)
    if len(broke):
        notices.append(f"NAV fell to {format_number(float(sim.nav[broke[0]]))} on "
                       f"{sim.index[broke[0]]:%Y-%m-%d %H:%M} UTC: the account was wiped out, every position "
                       "was closed (trade log reason 'risk_stop') and the strategy stopped trading; lower the "
                       "leverage (engine.risk.max_leverage)")
    return notices


def _stale_at_end(sim: Simulation) -> list[str]:
    """Positions held at the last bar whose symbol's last bar came earlier: their value is a stale close."""
    present = ~np.isnan(sim.market.close)
    n_bars = present.shape[0]
    if n_bars == 0:
        return []
    last = n_bars - 1 - np.argmax(present[::-1], axis=0)  # index of each symbol's last bar
    held = sim.qty[-1] != 0.0
    out = []
    for i in np.flatnonzero(held & present.any(axis=0) & (last < n_bars - 1)):
        out.append(f"{sim.market.symbols[i]} since {sim.index[last[i]]:%Y-%m-%d %H:%M} "
                   f"({n_bars - 1 - last[i]} bars)")
    return out

