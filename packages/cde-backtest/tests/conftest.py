"""Shared fixtures: random bar panels and a naive event-by-event reference backtest (the oracle)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # shared test helpers (report_oracles)


def make_panel(n_bars: int = 400, n_symbols: int = 6, *, seed: int = 0, late_listing: bool = True,
               funding: bool = True, start: str = "2024-01-01") -> pd.DataFrame:
    """Random hourly OHLCV bars, (ts, symbol) MultiIndex; one symbol lists late when asked."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range(start, periods=n_bars, freq="h", tz="UTC")
    frames = []
    for k in range(n_symbols):
        sym = f"S{k:02d}USDT"
        rets = rng.normal(0, 0.01, n_bars)
        close = 50.0 * (k + 1) * np.exp(np.cumsum(rets))
        open_ = close * np.exp(rng.normal(0, 0.003, n_bars))
        high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.006, n_bars)))
        low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.006, n_bars)))
        volume = rng.uniform(100, 1000, n_bars)
        frame = pd.DataFrame({"ts": ts, "symbol": sym, "open": open_, "high": high, "low": low,
                              "close": close, "volume": volume, "quote_volume": volume * close})
        if funding:
            rate = np.where(ts.hour % 8 == 0, rng.normal(0.0001, 0.0003, n_bars), 0.0)
            frame["funding_rate"] = rate
        if late_listing and k == n_symbols - 1:
            frame = frame.iloc[n_bars // 5:]
        frames.append(frame)
    return pd.concat(frames).set_index(["ts", "symbol"]).sort_index()


def random_weights(panel: pd.DataFrame, *, seed: int = 1, nan_share: float = 0.1) -> pd.Series:
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.15, len(panel))
    w[rng.random(len(panel)) < nan_share] = np.nan
    return pd.Series(w, index=panel.index)


def reference_backtest(panel: pd.DataFrame, weights: pd.Series, *, decide_ts: set, execution: str,
                       initial_cash: float, fee: float, slip_bp: float = 0.0, range_share: float = 0.0,
                       impact: float = 0.0, max_slip_bp: float = 100.0, cs_mode: bool = True,
                       stop_loss: float = 0.0, take_profit: float = 0.0, max_drawdown: float = 0.0,
                       funding_col: str = "funding_rate", delist_after_bars: int | None = None) -> dict:
    """The obvious, slow simulation: a dict of positions, walking bar by bar and symbol by symbol.

    ``weights`` here are final target weights on decision bars (``cs_mode``: NaN → 0) or NaN = no order.
    An order for a symbol without a bar waits for its next bar; a held symbol silent for
    ``delist_after_bars`` × (median gap between its own bars) is sold at its last close.
    """
    symbols = sorted(panel.index.get_level_values("symbol").unique())
    times = list(panel.index.get_level_values("ts").unique())
    rows = {key: row for key, row in zip(panel.index, panel.to_dict("records"), strict=True)}
    wmap = weights.to_dict()
    cash = initial_cash
    qty = dict.fromkeys(symbols, 0.0)
    last = dict.fromkeys(symbols, math.nan)  # last known close (valuation)
    entry = dict.fromkeys(symbols, math.nan)
    navs, fees_l, slips_l, fund_l, trades = [], [], [], [], []
    pending: dict = {}  # symbol -> (decision ts, reason): a waiting order
    seen: dict = {s: [t for t in sorted({k[0] for k in rows}) if (t, s) in rows] for s in symbols}
    grid_step = pd.Series(sorted({k[0] for k in rows})).diff().median()
    delist_span = {s: (pd.Series(v).diff().median() if len(v) > 1 else grid_step) * delist_after_bars
                   for s, v in seen.items()} if delist_after_bars else {}
    last_ts = dict.fromkeys(symbols)
    halted = False
    peak = initial_cash

    def cost(sym, t, notional):
        row = rows.get((t, sym))  # None: a forced exit on a bar the symbol does not have (no range, no volume)
        rate = slip_bp / 1e4
        if range_share or impact:
            spread = 0.0 if row is None else range_share * (row["high"] - row["low"]) / row["close"]
            rate = min(rate + spread, max_slip_bp / 1e4)
        s = notional * rate
        if impact and row is not None and row["quote_volume"] > 0:
            s += impact * notional * math.sqrt(notional / row["quote_volume"])
        return notional * fee, s

    def trade(t, sym, dq, price, reason, acc):
        nonlocal cash
        f, s = cost(sym, t, abs(dq) * price)
        cash -= dq * price + f + s
        acc[0] += f
        acc[1] += s
        old, new = qty[sym], qty[sym] + dq
        if new == 0:
            entry[sym] = math.nan
        elif old == 0 or (old > 0) != (new > 0):
            entry[sym] = price
        elif abs(new) > abs(old):
            entry[sym] = (old * entry[sym] + dq * price) / new
        qty[sym] = new
        trades.append((t, sym, dq, price, f, s, reason))

    def target_of(t, sym):
        w = wmap.get((t, sym), math.nan)
        if cs_mode and (w != w):
            return 0.0
        return w

    def place(decision_t, reason):
        for sym in symbols:
            w = 0.0 if reason == "risk_stop" else target_of(decision_t, sym)
            if w == w:
                pending[sym] = (w, reason)

    def fill_waiting(t, price_of, equity, acc):
        for sym in symbols:
            p = price_of(sym)
            if sym not in pending or p is None:
                continue
            w, reason = pending.pop(sym)
            dq = w * equity / p - qty[sym]
            if dq != 0:
                trade(t, sym, dq, p, reason, acc)

    for t in times:
        acc = [0.0, 0.0]
        here = {s for s in symbols if (t, s) in rows}
        if pending and execution != "close":
            equity = cash + sum(q * (rows[(t, s)]["open"] if s in here else last[s])
                                for s, q in qty.items() if q)
            opens = {s: rows[(t, s)]["open"] for s in here}
            fill_waiting(t, opens.get, equity, acc)
        if stop_loss or take_profit:
            for sym in symbols:
                q = qty[sym]
                if q == 0 or sym not in here:
                    continue
                row = rows[(t, sym)]
                e = entry[sym]
                o, h, lo = row["open"], row["high"], row["low"]
                hit = None
                if q > 0:
                    sl, tp = e * (1 - stop_loss), e * (1 + take_profit)
                    if stop_loss and o <= sl:
                        hit = (o, "stop_loss")
                    elif take_profit and o >= tp:
                        hit = (o, "take_profit")
                    elif stop_loss and lo <= sl:
                        hit = (sl, "stop_loss")
                    elif take_profit and h >= tp:
                        hit = (tp, "take_profit")
                else:
                    sl, tp = e * (1 + stop_loss), e * (1 - take_profit)
                    if stop_loss and o >= sl:
                        hit = (o, "stop_loss")
                    elif take_profit and o <= tp:
                        hit = (o, "take_profit")
                    elif stop_loss and h >= sl:
                        hit = (sl, "stop_loss")
                    elif take_profit and lo <= tp:
                        hit = (tp, "take_profit")
                if hit:
                    trade(t, sym, -q, hit[0], hit[1], acc)
        for sym in here:
            last[sym] = rows[(t, sym)]["close"]
            last_ts[sym] = t
        for sym in symbols:
            if (delist_span and sym not in here and qty[sym] and last_ts[sym] is not None
                    and t - last_ts[sym] >= delist_span[sym]):
                trade(t, sym, -qty[sym], last[sym], "delisted", acc)
                pending.pop(sym, None)
        funding = 0.0
        for sym, q in qty.items():
            if q and sym in here and funding_col in rows[(t, sym)]:
                pay = -q * last[sym] * rows[(t, sym)][funding_col]
                cash += pay
                funding += pay
        nav = cash + sum(q * last[s] for s, q in qty.items() if q)
        liquidate = False
        if not halted:
            peak = max(peak, nav)
            if nav <= 0 or (max_drawdown and nav <= peak * (1 - max_drawdown)):
                halted = liquidate = True
        order = None
        if liquidate:
            order = (t, "risk_stop")
        elif not halted and t in decide_ts:
            order = (t, "rebalance")
        if order is not None:
            place(*order)
        if execution == "close" and pending:
            closes = {s: last[s] for s in here}
            fill_waiting(t, closes.get, nav, acc)
            nav = cash + sum(q * last[s] for s, q in qty.items() if q)
        navs.append(nav)
        fees_l.append(acc[0])
        slips_l.append(acc[1])
        fund_l.append(funding)
    return {"nav": np.array(navs), "fees": np.array(fees_l), "slippage": np.array(slips_l),
            "funding": np.array(fund_l), "trades": trades}


@pytest.fixture(scope="session")
def panel_factory():
    return make_panel


@pytest.fixture(scope="session")
def weights_factory():
    return random_weights


@pytest.fixture(scope="session")
def reference():
    return reference_backtest
