"""A synthetic spot market with realistic stylised facts, for tests and the offline demo.

See docs/simulation.md for the model, each stylised fact and its measured strength.
"""

from __future__ import annotations

from cde_exchanges.fakes.simulation.diagnostics import weekly_momentum_rank_ic
from cde_exchanges.fakes.simulation.intraday import hourly_profile
from cde_exchanges.fakes.simulation.latent import LatentMarket, latent_market, simulate_daily_path
from cde_exchanges.fakes.simulation.market import simulate_day
from cde_exchanges.fakes.simulation.spec import DEFAULT_SYMBOLS, MarketSpec

__all__ = [
    "DEFAULT_SYMBOLS",
    "LatentMarket",
    "MarketSpec",
    "hourly_profile",
    "latent_market",
    "simulate_daily_path",
    "simulate_day",
    "weekly_momentum_rank_ic",
]
