"""Synthetic bars (random-walk OHLCV in :data:`cde_core.schemas.BARS_SCHEMA`) for tests and benchmarks.

Invariants: ``low ≤ min(open, close) ≤ max(open, close) ≤ high``, ``low ≤ vwap ≤ high``,
``volume ≥ buy_volume ≥ 0``, ``quote_volume = vwap · volume``, trade ids increase.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def synthetic_bars(n_bars: int, *, seed: int = 0, start: str = "2024-01-01", freq: str = "1h",
                   price: float = 100.0, vol: float = 0.01) -> pd.DataFrame:
    """One symbol's bars, indexed by ``ts`` (UTC, microseconds)."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range(start, periods=n_bars, freq=freq, tz="UTC", unit="us")
    log_ret = rng.normal(0.0, vol, n_bars)
    close = price * np.exp(np.cumsum(log_ret))
    open_ = np.empty(n_bars)
    open_[0] = price
    open_[1:] = close[:-1] * np.exp(rng.normal(0.0, vol * 0.05, n_bars - 1))
    top = np.maximum(open_, close)
    bottom = np.minimum(open_, close)
    high = top * np.exp(np.abs(rng.normal(0.0, vol * 0.6, n_bars)))
    low = bottom * np.exp(-np.abs(rng.normal(0.0, vol * 0.6, n_bars)))
    volume = rng.lognormal(mean=8.0, sigma=0.6, size=n_bars)
    buy_volume = volume * rng.uniform(0.2, 0.8, n_bars)
    vwap = low + (high - low) * rng.uniform(0.2, 0.8, n_bars)
    n_trades = np.maximum(1, (volume / rng.uniform(2.0, 20.0, n_bars)).astype(np.int64))
    last_id = np.cumsum(n_trades)
    frame = pd.DataFrame({
        "ts_close": ts + pd.Timedelta(freq) - pd.Timedelta(microseconds=1),
        "open": open_, "high": high, "low": low, "close": close,
        "volume": volume, "quote_volume": volume * vwap, "vwap": vwap, "n_trades": n_trades,
        "buy_volume": buy_volume, "buy_quote_volume": buy_volume * vwap,
        "first_trade_id": last_id - n_trades + 1, "last_trade_id": last_id,
    }, index=pd.DatetimeIndex(ts, name="ts"))
    return frame


def synthetic_panel(symbols: Sequence[str] | int, n_bars: int, *, seed: int = 0,
                    start: str = "2024-01-01", freq: str = "1h") -> pd.DataFrame:
    """Many symbols' bars as a panel indexed by ``(ts, symbol)``, sorted by ts then symbol."""
    names = [f"SYM{i:03d}USDT" for i in range(symbols)] if isinstance(symbols, int) else list(symbols)
    frames = []
    for i, name in enumerate(names):
        bars = synthetic_bars(n_bars, seed=seed * 100_003 + i, start=start, freq=freq,
                              price=float(10 ** (1 + i % 4)), vol=0.005 + 0.002 * (i % 5))
        frames.append(bars.assign(symbol=name).set_index("symbol", append=True))
    return pd.concat(frames).sort_index()


def with_perp_inputs(bars: pd.DataFrame, *, seed: int = 0, settle_every: int = 8) -> pd.DataFrame:
    """``bars`` (one symbol or a panel) plus the perpetual factors' lake inputs: ``funding_last``, a rate
    that changes every ``settle_every`` bars of each symbol (known from its first bar on), and
    ``spot_close``, the close times a small random basis."""
    rng = np.random.default_rng(seed)
    funding = np.empty(len(bars))
    if isinstance(bars.index, pd.MultiIndex):
        groups = [np.flatnonzero(codes == k) for codes in [pd.factorize(bars.index.get_level_values(1))[0]]
                  for k in range(codes.max() + 1)]
    else:
        groups = [np.arange(len(bars))]
    for rows in groups:
        levels = rng.normal(1e-4, 2e-4, len(rows) // settle_every + 1)
        funding[rows] = np.repeat(levels, settle_every)[: len(rows)]
    spot = bars["close"].to_numpy() * np.exp(rng.normal(-2e-4, 5e-4, len(bars)))
    return bars.assign(funding_last=funding, spot_close=spot)
