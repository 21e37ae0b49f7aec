"""One symbol-day of trades filled in around the latent daily path (vectorised numpy, no Python loop).

* times: an inhomogeneous Poisson process whose intensity is the hour-of-day profile times a
  random 5-minute activity level (bursts); sorted uniforms come from normalised exponential
  spacings, so no sort is needed.
* mid price: a Brownian bridge in trade time from the day's open to its close, so volatility follows
  activity and the last mid of the day is exactly the latent close (days join continuously).
* side: takers buy more often when the price moves up (logistic in the normalised move); the
  trade prints at the ask for taker buys and at the bid for taker sells (bid-ask bounce).
* size: log-normal notional around the day's mean trade notional (heavy right tail), rounded to lots.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa

from cde_core.schemas import TRADES_SCHEMA, TS_TYPE
from cde_exchanges.fakes.simulation.spec import MarketSpec

BUCKET_SECONDS = 300
BUCKETS_PER_DAY = 86_400 // BUCKET_SECONDS
#: shape of the gamma activity level per 5-minute bucket (smaller = burstier)
BURST_SHAPE = 4.0
#: how strongly the taker side follows the price move
SIDE_SENSITIVITY = 1.5


def hourly_profile(spec: MarketSpec) -> np.ndarray:
    """Expected share of a day's trades in each UTC hour (24 values summing to 1)."""
    hours = np.arange(24) + 0.5
    shape = 1.0 + spec.seasonality_amplitude * np.cos(2 * np.pi * (hours - spec.peak_hour_utc) / 24)
    profile: np.ndarray = shape / shape.sum()
    return profile


def _bucket_intensity(spec: MarketSpec, gen: np.random.Generator) -> np.ndarray:
    mid_hours = (np.arange(BUCKETS_PER_DAY) + 0.5) * BUCKET_SECONDS / 3600
    seasonal = 1.0 + spec.seasonality_amplitude * np.cos(2 * np.pi * (mid_hours - spec.peak_hour_utc) / 24)
    intensity: np.ndarray = seasonal * gen.gamma(BURST_SHAPE, 1.0 / BURST_SHAPE, size=BUCKETS_PER_DAY)
    return intensity


def trade_times_us(spec: MarketSpec, gen: np.random.Generator, n: int, day: date) -> np.ndarray:
    """``n`` non-decreasing trade times (µs since the epoch) within ``day``."""
    intensity = _bucket_intensity(spec, gen)
    cdf = np.concatenate([[0.0], np.cumsum(intensity)])
    cdf /= cdf[-1]
    spacings = np.cumsum(gen.standard_exponential(n + 1))
    uniforms = spacings[:-1] / spacings[-1]
    seconds = np.interp(uniforms, cdf, np.arange(BUCKETS_PER_DAY + 1) * float(BUCKET_SECONDS))
    day_start_us = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1_000_000
    times: np.ndarray = day_start_us + (seconds * 1e6).astype(np.int64)
    return times


def mid_log_path(gen: np.random.Generator, n: int, log_open: float, log_close: float,
                 daily_vol: float) -> tuple[np.ndarray, np.ndarray]:
    """Log mid price after each trade (a bridge ending at ``log_close``) and the normalised moves."""
    moves = gen.standard_normal(n)
    walk = np.cumsum(moves) * (daily_vol / math.sqrt(n))
    fraction = np.arange(1, n + 1) / n
    path = log_open + walk - fraction * (walk[-1] - (log_close - log_open))
    return path, moves


def price_step(price: float) -> float:
    """Tick size: five significant digits at the symbol's start price."""
    return 10.0 ** (math.floor(math.log10(price)) - 5)


def lot_step(price: float) -> float:
    """Lot size: about a thousandth of one quote unit at the start price."""
    return 10.0 ** (math.floor(math.log10(1.0 / price)) - 3)


def fill_trades(spec: MarketSpec, gen: np.random.Generator, *, day: date, n: int, first_trade_id: int,
                open_price: float, close_price: float, daily_vol: float, mean_notional: float,
                base_price: float) -> pa.Table:
    """The day's trades as a canonical TRADES_SCHEMA table."""
    ts = trade_times_us(spec, gen, n, day)
    log_mid, moves = mid_log_path(gen, n, math.log(open_price), math.log(close_price), daily_vol)
    taker_buys = gen.random(n) < 1.0 / (1.0 + np.exp(-SIDE_SENSITIVITY * moves))
    half_spread = spec.half_spread_bps * 1e-4
    tick = price_step(base_price)
    raw_price = np.exp(log_mid) * np.where(taker_buys, 1.0 + half_spread, 1.0 - half_spread)
    price = np.maximum(np.rint(raw_price / tick), 1.0) * tick

    sigma = spec.size_log_sigma
    notional = mean_notional * np.exp(sigma * gen.standard_normal(n) - 0.5 * sigma**2)
    lot = lot_step(base_price)
    qty = np.maximum(np.rint(notional / price / lot), 1.0) * lot

    return pa.Table.from_arrays(
        [pa.array(ts, type=pa.int64()).cast(TS_TYPE),
         pa.array(np.arange(first_trade_id, first_trade_id + n, dtype=np.int64)),
         pa.array(price), pa.array(qty), pa.array(price * qty), pa.array(~taker_buys)],
        schema=TRADES_SCHEMA)
