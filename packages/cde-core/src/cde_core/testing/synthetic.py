"""Small deterministic synthetic inputs for the plugin checks: trades, bars and bar panels.

Not a market model: just valid data (canonical schemas, ``low ≤ open, close ≤ high``, trade ids
increasing) with enough variety (ties, zero-volume-free, both trade sides) to exercise a plugin.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from cde_core.schemas import TRADES_SCHEMA


def synthetic_trades(n: int = 5000, *, seed: int = 0, start: str = "2024-01-01", price: float = 100.0,
                     seconds: float = 3 * 86_400) -> pa.Table:
    """``n`` trades in :data:`TRADES_SCHEMA` spread over ``seconds`` (some share a timestamp)."""
    rng = np.random.default_rng(seed)
    offsets = np.sort(rng.integers(0, int(seconds * 1e6), n))
    offsets[1::7] = offsets[0::7][: len(offsets[1::7])]  # timestamp ties, as real feeds have
    offsets.sort()
    ts = pd.Timestamp(start, tz="UTC").value // 1000 + offsets
    prices = price * np.exp(np.cumsum(rng.normal(0.0, 4e-4, n)))
    qty = np.round(rng.lognormal(-1.0, 1.0, n), 6) + 1e-6
    return pa.table({
        "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "trade_id": pa.array(np.arange(1, n + 1, dtype=np.int64)),
        "price": pa.array(prices), "qty": pa.array(qty), "quote_qty": pa.array(prices * qty),
        "is_buyer_maker": pa.array(rng.random(n) < 0.5),
    }, schema=TRADES_SCHEMA)


def synthetic_bars(n_bars: int = 300, *, seed: int = 0, start: str = "2024-01-01", freq: str = "1h",
                   price: float = 100.0) -> pd.DataFrame:
    """One symbol's bars (all :data:`BARS_SCHEMA` columns but ``ts``), indexed by ``ts``."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range(start, periods=n_bars, freq=freq, tz="UTC", unit="us")
    close = price * np.exp(np.cumsum(rng.normal(0.0, 0.01, n_bars)))
    open_ = np.concatenate([[price], close[:-1]])
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.006, n_bars)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.006, n_bars)))
    volume = rng.lognormal(8.0, 0.6, n_bars)
    buy = volume * rng.uniform(0.2, 0.8, n_bars)
    vwap = low + (high - low) * rng.uniform(0.2, 0.8, n_bars)
    n_trades = np.maximum(1, (volume / 10).astype(np.int64))
    last = np.cumsum(n_trades)
    return pd.DataFrame({
        "ts_close": ts + pd.Timedelta(freq) - pd.Timedelta(microseconds=1), "open": open_, "high": high,
        "low": low, "close": close, "volume": volume, "quote_volume": volume * vwap, "vwap": vwap,
        "n_trades": n_trades, "buy_volume": buy, "buy_quote_volume": buy * vwap,
        "first_trade_id": last - n_trades + 1, "last_trade_id": last,
    }, index=pd.DatetimeIndex(ts, name="ts"))


def hourly_time_bars(close: np.ndarray, volume: np.ndarray, *, start: str = "2024-03-01") -> pa.Table:
    """1 h time bars (the bars schema plus ``period_start``, as the time builder writes them) from
    ``close`` and ``volume`` per hour: opens at the previous close (100 first), a 0.1 % range around
    open and close, ten trades an hour, half the volume taker-bought, vwap at the close."""
    from cde_core.schemas import BARS_SCHEMA, PERIOD_START

    hours = len(close)
    clock = pd.date_range(start, periods=hours, freq="h", tz="UTC").as_unit("us")
    open_ = np.r_[100.0, close[:-1]]
    columns = {"ts": clock, "ts_close": clock + pd.Timedelta(minutes=59), "open": open_,
               "high": np.maximum(open_, close) * 1.001, "low": np.minimum(open_, close) * 0.999,
               "close": close, "volume": volume, "quote_volume": volume * close, "vwap": close,
               "n_trades": np.full(hours, 10), "buy_volume": volume / 2, "buy_quote_volume": volume * close / 2,
               "first_trade_id": np.arange(hours), "last_trade_id": np.arange(hours)}
    return pa.table({**{f.name: pa.array(columns[f.name]).cast(f.type) for f in BARS_SCHEMA},
                     PERIOD_START: pa.array(clock)})


def synthetic_panel(symbols: Sequence[str] | int = 5, n_bars: int = 200, *, seed: int = 0) -> pd.DataFrame:
    """Several symbols' bars indexed by ``(ts, symbol)``, sorted by ts then symbol."""
    names = [f"SYM{i}USDT" for i in range(symbols)] if isinstance(symbols, int) else list(symbols)
    frames = [synthetic_bars(n_bars, seed=seed * 1009 + i, price=10.0 * (i + 1)).assign(symbol=name)
              for i, name in enumerate(names)]
    return pd.concat(frames).set_index("symbol", append=True).sort_index()


def write_bars_lake(root: Path | str, spec: str, symbols: Sequence[str], n_bars: int, *, exchange: str = "binance",
                    market: str = "spot") -> Path | str:
    """Synthetic hourly bars of ``symbols`` written into a lake at ``root`` (one file per day, the bars
    lake layout), for end-to-end tests of features and backtests; returns ``root``."""
    import pyarrow.parquet as pq

    from cde_core.atomic import atomic_path
    from cde_core.lake import Lake
    from cde_core.schemas import BARS_SCHEMA

    lake = Lake(root)  # a folder or s3://bucket/prefix
    for i, symbol in enumerate(symbols):
        frame = synthetic_bars(n_bars, seed=i, price=10.0 * (i + 1)).reset_index()
        for day, part in frame.groupby(frame["ts"].dt.strftime("%Y-%m-%d")):
            folder = lake.bars_dir(spec, exchange, market, symbol) / f"date={day}"
            with atomic_path(folder / "part-0.parquet") as tmp:
                pq.write_table(pa.Table.from_pandas(part, schema=BARS_SCHEMA, preserve_index=False), tmp)
    return root
