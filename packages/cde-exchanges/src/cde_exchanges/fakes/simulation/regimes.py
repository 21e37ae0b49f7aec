"""Market-wide volatility regimes: a two-state Markov chain (calm / turbulent) over days.

Spell lengths of a two-state Markov chain are geometric, so the chain is drawn as alternating
geometric spells (one generator per state) instead of a day-by-day loop. Each draw consumes the same
amount of randomness, so extending the period leaves the earlier days unchanged.
"""

from __future__ import annotations

import numpy as np

from cde_exchanges.fakes.simulation.seeding import Stream, rng

CALM, TURBULENT = 0, 1


def markov_regimes(seed: int, n_days: int, calm_mean_days: float, turbulent_mean_days: float) -> np.ndarray:
    """Regime per day (0 calm, 1 turbulent); the first day is calm."""
    calm = rng(seed, Stream.REGIME, "calm").geometric(1.0 / calm_mean_days, size=n_days)
    turbulent = rng(seed, Stream.REGIME, "turbulent").geometric(1.0 / turbulent_mean_days, size=n_days)
    spells = np.empty(2 * n_days, dtype=np.int64)
    spells[0::2], spells[1::2] = calm, turbulent
    states = np.tile(np.array([CALM, TURBULENT], dtype=np.int8), n_days)
    return np.repeat(states, spells)[:n_days]
