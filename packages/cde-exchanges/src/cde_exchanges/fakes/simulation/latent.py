"""The latent daily market: closes, volatility, trade counts, trade ids and quote volume per symbol-day.

Everything here is one small (days × symbols) array computed at once from the seed, so any single
day's trades can be filled in later without generating the days before it. The model, per symbol i
and day t (log returns)::

    r[i,t]   = mu[i,t] + beta[i] * f[t] + e[i,t]
    f[t]     ~ N(0, (market_vol * m[t])^2)            common factor, m = regime multiplier
    e[i,t]   ~ N(0, (idio_vol * sqrt(m[t]))^2)         asset-specific part
    mu[i,t]  = phi * mu[i,t-1] + innovation            persistent drift → cross-sectional momentum
    l[i,t]   = psi * l[i,t-1] + innovation             log-liquidity deviation → quote-volume ranks move
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from cde_core.errors import NotFoundError
from cde_exchanges.fakes.simulation.regimes import markov_regimes
from cde_exchanges.fakes.simulation.seeding import Stream, rng, symbol_key
from cde_exchanges.fakes.simulation.spec import MarketSpec

#: trades per day respond to volatility with this elasticity (volume-volatility relation)
COUNT_VOL_ELASTICITY = 0.5
#: trade counts per symbol scale with mean quote volume to this power (liquid pairs trade more often)
COUNT_LIQUIDITY_ELASTICITY = 0.3
#: day-to-day noise of trade counts (log st.dev)
COUNT_NOISE = 0.1


@dataclass(frozen=True)
class LatentMarket:
    """Daily latent state; arrays are (n_days, n_symbols) unless noted."""

    symbols: tuple[str, ...]
    days: tuple[date, ...]
    regime: np.ndarray          # (n_days,) 0 calm, 1 turbulent
    log_return: np.ndarray
    open: np.ndarray            # previous close (the start price on the first day)
    close: np.ndarray
    daily_vol: np.ndarray       # st.dev of the day's log return, used to scale the intraday path
    drift: np.ndarray
    n_trades: np.ndarray        # int64, 0 on days the symbol does not trade
    first_trade_id: np.ndarray  # int64, id of the day's first trade
    quote_volume: np.ndarray    # expected quote volume of the day

    def column(self, symbol: str) -> int:
        try:
            return self.symbols.index(symbol)
        except ValueError:
            raise NotFoundError(f"symbol {symbol} is not in the simulated market",
                                hint=f"choose one of {', '.join(self.symbols)}") from None

    def row(self, day: date) -> int:
        offset = (day - self.days[0]).days
        if not 0 <= offset < len(self.days):
            raise NotFoundError(f"day {day} is outside the simulated period {self.days[0]}..{self.days[-1]}",
                                hint="extend MarketSpec.start / end")
        return offset


def ar1(innovations: np.ndarray, phi: float, initial: np.ndarray) -> np.ndarray:
    """x[t] = phi * x[t-1] + innovations[t] along axis 0, with x[-1] = initial.

    A loop over days, vectorised over symbols: a few thousand tiny steps at most.
    """
    out = np.empty_like(innovations)
    previous = initial
    for t in range(innovations.shape[0]):
        previous = phi * previous + innovations[t]
        out[t] = previous
    return out


def _per_symbol_normals(spec: MarketSpec, stream: Stream) -> np.ndarray:
    """(n_days, n_symbols) standard normals, one independent stream per symbol."""
    return np.column_stack([rng(spec.seed, stream, s).standard_normal(spec.n_days + 1)
                            for s in spec.symbols])


def mean_quote_volumes(spec: MarketSpec) -> np.ndarray:
    """Mean daily quote volume per symbol: log-spaced over `quote_volume_decades` in list order."""
    k = len(spec.symbols)
    position = np.arange(k) / max(k - 1, 1)
    return spec.top_quote_volume * 10.0 ** (-spec.quote_volume_decades * position)


def _trading_mask(spec: MarketSpec) -> np.ndarray:
    days = np.array([d.toordinal() for d in spec.days()])[:, None]
    listed = np.array([spec.listings.get(s, date.min).toordinal() for s in spec.symbols])[None, :]
    delisted = np.array([spec.delistings.get(s, date.max).toordinal() for s in spec.symbols])[None, :]
    return (days >= listed) & (days < delisted)


def _weekday_activity(spec: MarketSpec) -> np.ndarray:
    weekend = np.array([d.weekday() >= 5 for d in spec.days()])
    return np.where(weekend, spec.weekend_activity, 1.0)[:, None]


def build_latent_market(spec: MarketSpec) -> LatentMarket:
    """Compute the latent daily market for the whole period (cheap: O(days × symbols))."""
    n, k = spec.n_days, len(spec.symbols)
    regime = markov_regimes(spec.seed, n, spec.calm_mean_days, spec.turbulent_mean_days)
    multiplier = np.where(regime == 1, spec.turbulent_vol_multiplier, 1.0)[:, None]

    beta = np.array([0.8 + 0.4 * rng(spec.seed, Stream.BETA, s).random() for s in spec.symbols])[None, :]
    factor = spec.market_vol * multiplier * rng(spec.seed, Stream.MARKET_FACTOR).standard_normal(n)[:, None]
    idio_scale = spec.idio_vol * np.sqrt(multiplier)
    idio = idio_scale * _per_symbol_normals(spec, Stream.IDIO)[1:]

    drift_sd = spec.momentum_strength * spec.idio_vol
    phi = spec.decay(spec.momentum_halflife_days)
    drift_z = _per_symbol_normals(spec, Stream.DRIFT)
    drift = ar1(drift_sd * math.sqrt(1 - phi**2) * drift_z[1:], phi, drift_sd * drift_z[0])

    log_return = drift + beta * factor + idio
    base = np.array([spec.base_price(s) for s in spec.symbols])[None, :]
    log_close = np.log(base) + np.cumsum(log_return, axis=0)
    close = np.exp(log_close)
    open_ = np.vstack([base, close[:-1]])
    daily_vol = np.sqrt((beta * spec.market_vol * multiplier) ** 2 + idio_scale**2) * np.ones((1, k))

    psi = spec.decay(spec.liquidity_halflife_days)
    liq_z = _per_symbol_normals(spec, Stream.LIQUIDITY)
    liquidity = ar1(spec.liquidity_vol * liq_z[1:], psi,
                    spec.liquidity_vol / math.sqrt(1 - psi**2) * liq_z[0])
    activity = _weekday_activity(spec) * multiplier**COUNT_VOL_ELASTICITY
    mean_qv = mean_quote_volumes(spec)[None, :]
    quote_volume = mean_qv * np.exp(liquidity) * activity

    weight = mean_qv ** COUNT_LIQUIDITY_ELASTICITY
    weight = weight / weight.mean()
    count_noise = np.exp(COUNT_NOISE * _per_symbol_normals(spec, Stream.COUNT_NOISE)[1:])
    trading = _trading_mask(spec)
    n_trades = np.where(trading, np.maximum(1, np.rint(spec.trades_per_day * weight * activity * count_noise)),
                        0).astype(np.int64)
    quote_volume = np.where(trading, quote_volume, 0.0)

    base_id = np.array([10**8 + symbol_key(s) % 10**8 for s in spec.symbols], dtype=np.int64)[None, :]
    first_trade_id = base_id + np.cumsum(n_trades, axis=0) - n_trades

    return LatentMarket(symbols=tuple(spec.symbols), days=tuple(spec.days()), regime=regime,
                        log_return=log_return, open=open_, close=close, daily_vol=daily_vol, drift=drift,
                        n_trades=n_trades, first_trade_id=first_trade_id, quote_volume=quote_volume)


@functools.lru_cache(maxsize=16)
def _cached(spec_json: str) -> LatentMarket:
    return build_latent_market(MarketSpec.model_validate_json(spec_json))


def latent_market(spec: MarketSpec) -> LatentMarket:
    """The latent market of ``spec``, computed once per process and spec."""
    return _cached(spec.model_dump_json())


def simulate_daily_path(spec: MarketSpec) -> pd.DataFrame:
    """Latent daily close per symbol: index ``date`` (datetime.date), one column per symbol.

    Cheap (no trades are generated), so tests and notebooks can study years of the market's
    stylised facts. A symbol's close exists even on days it does not trade.
    """
    market = latent_market(spec)
    index = pd.Index(list(market.days), name="date")
    return pd.DataFrame(market.close, index=index, columns=list(market.symbols))
