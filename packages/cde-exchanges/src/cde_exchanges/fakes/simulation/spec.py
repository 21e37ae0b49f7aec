"""What market to simulate: one pydantic model whose every field is documented in docs/simulation.md.

The model is the whole input of the simulator: the same spec (and seed) always yields the same
trades, so a spec can be written into a run's provenance and the market regenerated later.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cde_core.errors import ConfigError
from cde_exchanges.fakes.simulation.seeding import symbol_key

DEFAULT_SYMBOLS: tuple[str, ...] = (
    "BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT",
    "ADAUSDT", "AVAXUSDT", "LINKUSDT", "DOTUSDT", "LTCUSDT", "TRXUSDT",
)

#: plausible price levels so the simulated tape looks like the real one (any symbol not listed
#: gets a level derived from its name, between 0.01 and 1000)
KNOWN_BASE_PRICES: dict[str, float] = {
    "BTCUSDT": 42_000.0, "ETHUSDT": 2_300.0, "SOLUSDT": 95.0, "BNBUSDT": 310.0, "XRPUSDT": 0.6,
    "DOGEUSDT": 0.085, "ADAUSDT": 0.55, "AVAXUSDT": 35.0, "LINKUSDT": 15.0, "DOTUSDT": 7.0,
    "LTCUSDT": 70.0, "TRXUSDT": 0.11,
}


class MarketSpec(BaseModel):
    """A simulated spot market: symbols, period, seed and the strength of each stylised fact."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    symbols: list[str] = Field(default_factory=lambda: list(DEFAULT_SYMBOLS), min_length=1,
                               description="exchange symbols; the first is the most liquid by default")
    start: date = Field(date(2024, 1, 1), description="first simulated day (UTC); the latent path starts here")
    end: date = Field(date(2024, 3, 31), description="last simulated day, inclusive")
    seed: int = Field(7, ge=0, description="the market is a pure function of the spec and this seed")
    trades_per_day: float = Field(40_000.0, gt=0, description="mean trades per symbol-day (intensity)")
    base_prices: dict[str, float] = Field(default_factory=dict,
                                          description="price at `start` per symbol (defaults: realistic levels)")
    top_quote_volume: float = Field(2e9, gt=0, description="mean daily quote volume of the first symbol")
    quote_volume_decades: float = Field(3.0, ge=0, description="orders of magnitude between the first and "
                                        "the last symbol's mean daily quote volume")
    liquidity_vol: float = Field(0.12, ge=0, description="daily st.dev of log quote-volume innovations")
    liquidity_halflife_days: float = Field(30.0, gt=0, description="how long a liquidity shock persists")
    market_vol: float = Field(0.028, gt=0, description="daily st.dev of the common factor (calm regime)")
    idio_vol: float = Field(0.025, gt=0, description="daily st.dev of the asset-specific part (calm regime)")
    turbulent_vol_multiplier: float = Field(2.0, ge=1, description="vol multiplier in the turbulent regime")
    calm_mean_days: float = Field(60.0, ge=1, description="mean length of a calm regime spell, days")
    turbulent_mean_days: float = Field(15.0, ge=1, description="mean length of a turbulent spell, days")
    momentum_strength: float = Field(0.14, ge=0, description="st.dev of the persistent drift as a fraction "
                                     "of idio_vol; 0 switches cross-sectional momentum off")
    momentum_halflife_days: float = Field(90.0, gt=0, description="persistence of each asset's drift")
    seasonality_amplitude: float = Field(0.45, ge=0, lt=1, description="hour-of-day intensity swing")
    peak_hour_utc: float = Field(15.0, ge=0, lt=24, description="UTC hour of peak trading intensity")
    weekend_activity: float = Field(0.75, gt=0, description="weekend trade intensity relative to weekdays")
    size_log_sigma: float = Field(1.3, gt=0, description="st.dev of log trade notional (heavy tails)")
    half_spread_bps: float = Field(1.0, ge=0, description="half bid-ask spread, basis points")
    listings: dict[str, date] = Field(default_factory=dict, description="symbol → first trading day")
    delistings: dict[str, date] = Field(default_factory=dict, description="symbol → first day with no trades")

    @model_validator(mode="after")
    def _check(self) -> MarketSpec:
        if self.end < self.start:
            raise ConfigError(f"simulation end {self.end} is before start {self.start}", where="MarketSpec",
                              hint="swap the dates")
        if len(set(self.symbols)) != len(self.symbols):
            raise ConfigError("duplicate symbols in the simulated market", where="MarketSpec.symbols")
        unknown = (set(self.base_prices) | set(self.listings) | set(self.delistings)) - set(self.symbols)
        if unknown:
            raise ConfigError(f"unknown symbol(s) {', '.join(sorted(unknown))}", where="MarketSpec",
                              hint="list them in `symbols` too")
        return self

    # -- derived values --------------------------------------------------------------------------
    @property
    def n_days(self) -> int:
        return (self.end - self.start).days + 1

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.n_days)]

    def base_price(self, symbol: str) -> float:
        if symbol in self.base_prices:
            return self.base_prices[symbol]
        if symbol in KNOWN_BASE_PRICES:
            return KNOWN_BASE_PRICES[symbol]
        # a stable pseudo-random level in [0.01, 1000) derived from the name
        return float(10.0 ** (-2 + 5 * ((symbol_key(symbol) % 10_007) / 10_007)))

    def trading_days(self, symbol: str) -> list[date]:
        """Days on which ``symbol`` trades (listed, not yet delisted) within [start, end]."""
        first = max(self.start, self.listings.get(symbol, self.start))
        stop = min(self.end + timedelta(days=1), self.delistings.get(symbol, self.end + timedelta(days=1)))
        return [first + timedelta(days=i) for i in range((stop - first).days)]

    def is_trading(self, symbol: str, day: date) -> bool:
        listed = self.listings.get(symbol, date.min)
        delisted = self.delistings.get(symbol, date.max)
        return symbol in self.symbols and self.start <= day <= self.end and listed <= day < delisted

    def decay(self, halflife_days: float) -> float:
        """AR(1) coefficient per day for a given half-life."""
        return math.exp(-math.log(2.0) / halflife_days)
