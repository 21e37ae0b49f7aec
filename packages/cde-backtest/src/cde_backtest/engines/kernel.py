"""The Numba simulation kernel shared by both engines: one pass over the bars, cash accounting.

Per bar ``t`` the order of events is fixed (docs/backtest.md, "Execution timing"):

1. orders decided on bar ``t-1`` fill at ``open[t]`` (next-open execution), sized on the equity
   valued at the open prices: ``target_qty = weight × equity / open`` (all orders of a rebalance
   are sized on the same pre-trade equity; fees and slippage are paid in cash on top);
2. stop-loss / take-profit checks against ``high``/``low`` (gap through the level → fill at open;
   both levels inside one bar → the stop is assumed hit first, the conservative choice);
3. positions are marked to ``close[t]``; funding ``-qty × close × rate`` is paid or received;
4. the drawdown stop is checked on the close NAV; a NAV at or below zero (the account is wiped out)
   closes everything the same way, like a broker's margin call, instead of trading on with debt;
5. a decision on bar ``t`` either fills at ``close[t]`` (close execution) or waits for ``open[t+1]``.

An order for an asset without a bar waits for that asset's next bar (its open, or its close with close
execution) unless a newer decision replaces it: an exit is never dropped because one bar is missing.

P&L is attributed exactly: each asset is marked from its previous mark to every fill price and to
the close, so per bar ``ΔNAV = Σ position P&L − fees − slippage + funding`` holds to rounding.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NUMBA_CACHE_INPUTS = "e3b0c44298fc1c14"  # sha256 of the cde code it imports; tools/numba_cache_stamps.py

REASON_REBALANCE = 0
REASON_STOP_LOSS = 1
REASON_TAKE_PROFIT = 2
REASON_RISK_STOP = 3
REASON_DELISTED = 4


@njit(cache=True, nogil=True, inline="always")
def _flex(a: np.ndarray, t: int, i: int) -> float:
    return a[t if a.shape[0] > 1 else 0, i if a.shape[1] > 1 else 0]


@njit(cache=True, nogil=True)
def _fill(t, i, dq, price, reason, q, mark, entry, state, fee_rate, slip_rate, impact, quote_volume,
          asset_pnl, asset_cost, tr_t, tr_i, tr_q, tr_p, tr_fee, tr_slip, tr_reason, tr_after):
    """Trade ``dq`` units of asset ``i`` at ``price``; updates cash (state[0]) and bar sums."""
    # mark the held position to the fill price first, so P&L is attributed exactly
    pnl = q[i] * (price - mark[i])
    asset_pnl[i] += pnl
    state[2] += pnl
    mark[i] = price
    notional = abs(dq) * price
    fee = notional * _flex(fee_rate, t, i)
    slip = notional * _flex(slip_rate, t, i)
    if impact > 0.0:
        qv = _flex(quote_volume, t, i)
        if qv > 0.0:
            slip += impact * notional * np.sqrt(notional / qv)
    state[0] -= dq * price + fee + slip
    state[3] += fee
    state[4] += slip
    state[5] += notional
    asset_cost[i] += fee + slip
    old = q[i]
    new = old + dq
    if new == 0.0:
        entry[i] = np.nan
    elif old == 0.0 or (old > 0.0) != (new > 0.0):
        entry[i] = price
    elif abs(new) > abs(old):
        entry[i] = (old * entry[i] + dq * price) / new
    q[i] = new
    n = int(state[6])
    tr_t[n] = t
    tr_i[n] = i
    tr_q[n] = dq
    tr_p[n] = price
    tr_fee[n] = fee
    tr_slip[n] = slip
    tr_reason[n] = reason
    tr_after[n] = new
    state[6] = n + 1


@njit(cache=True, nogil=True)
def _equity_at_open(t, open_, q, mark, cash):
    """Cash plus every position valued at this bar's open (its last mark where it has no bar)."""
    equity = cash
    for i in range(q.shape[0]):
        if q[i] != 0.0:
            p = open_[t, i]
            equity += q[i] * (p if not np.isnan(p) else mark[i])
    return equity


@njit(cache=True, nogil=True)
def _fill_waiting(t, prices, equity, pend, pend_reason, min_trade_value, q, mark, entry, state, fee_rate,
                  slip_rate, impact, quote_volume, asset_pnl, asset_cost, tr_t, tr_i, tr_q, tr_p, tr_fee, tr_slip,
                  tr_reason, tr_after):
    """Fill every waiting order whose asset has a price at bar ``t`` (``target_qty = w × equity / price``);
    the others keep waiting. Returns (orders still waiting, whether anything was traded)."""
    waiting = 0
    filled = False
    for i in range(pend.shape[0]):
        w = pend[i]
        if np.isnan(w):
            continue
        p = prices[t, i]
        if np.isnan(p):
            waiting += 1
            continue
        pend[i] = np.nan
        dq = w * equity / p - q[i]
        if dq == 0.0 or abs(dq) * p < min_trade_value:
            continue
        _fill(t, i, dq, p, pend_reason[i], q, mark, entry, state, fee_rate, slip_rate, impact, quote_volume,
              asset_pnl, asset_cost, tr_t, tr_i, tr_q, tr_p, tr_fee, tr_slip, tr_reason, tr_after)
        filled = True
    return waiting, filled


@njit(cache=True, nogil=True)
def simulate_kernel(ts, open_, high, low, close, rows, row_of, fee_rate, slip_rate, impact, quote_volume,
                    funding, initial_cash, exec_at_close, max_drawdown, stop_loss, take_profit,
                    min_trade_value, delist_ns, capacity):
    """Simulate trading target weights: on bar t with ``row_of[t] = k >= 0`` the targets are
    ``rows[k]`` (NaN = leave that asset alone).

    Prices may be NaN where an asset has no bar: it cannot trade there, is valued at its last mark,
    and its stops are not checked. An order for an asset without a bar waits for that asset's next bar
    (a newer decision replaces it). An asset held with no bar for ``delist_ns[i]`` nanoseconds since
    its last bar is closed at its last price (reason ``delisted``). Returns per-bar arrays, per-asset
    P&L/costs/funding and the trade log (with the position after each fill, from which end-of-bar
    positions are rebuilt exactly).
    """
    n_bars, n_assets = close.shape
    nav = np.empty(n_bars)
    cash_out = np.empty(n_bars)
    pnl_out = np.zeros(n_bars)
    fees_out = np.zeros(n_bars)
    slip_out = np.zeros(n_bars)
    fund_out = np.zeros(n_bars)
    traded_out = np.zeros(n_bars)
    gross_out = np.zeros(n_bars)
    net_out = np.zeros(n_bars)
    q = np.zeros(n_assets)
    mark = np.full(n_assets, np.nan)
    entry = np.full(n_assets, np.nan)
    last_seen = np.full(n_assets, -1, np.int64)  # ts of each asset's last bar (-1: none yet)
    pend = np.full(n_assets, np.nan)  # waiting target weight per asset (NaN: no order)
    pend_reason = np.zeros(n_assets, np.int8)
    n_pend = 0
    asset_pnl = np.zeros(n_assets)
    asset_cost = np.zeros(n_assets)
    asset_fund = np.zeros(n_assets)
    tr_t = np.empty(capacity, np.int64)
    tr_i = np.empty(capacity, np.int64)
    tr_q = np.empty(capacity)
    tr_p = np.empty(capacity)
    tr_fee = np.empty(capacity)
    tr_slip = np.empty(capacity)
    tr_reason = np.empty(capacity, np.int8)
    tr_after = np.empty(capacity)
    # state: cash, unused, bar pnl, bar fees, bar slippage, bar traded notional, n trades
    state = np.zeros(7)
    state[0] = initial_cash
    use_stops = stop_loss > 0.0 or take_profit > 0.0
    has_funding = funding.shape[0] > 1 or funding[0, 0] != 0.0
    halted = False
    peak = initial_cash

    for t in range(n_bars):
        state[2] = 0.0
        state[3] = 0.0
        state[4] = 0.0
        state[5] = 0.0
        # 1. fills at the open of waiting orders (decided on an earlier bar)
        if n_pend > 0 and not exec_at_close:
            equity = _equity_at_open(t, open_, q, mark, state[0])
            n_pend, _ = _fill_waiting(t, open_, equity, pend, pend_reason, min_trade_value, q, mark, entry, state,
                                      fee_rate, slip_rate, impact, quote_volume, asset_pnl, asset_cost, tr_t, tr_i,
                                      tr_q, tr_p, tr_fee, tr_slip, tr_reason, tr_after)
        # 2. stop-loss / take-profit against this bar's range
        if use_stops:
            for i in range(n_assets):
                if q[i] == 0.0 or np.isnan(entry[i]) or np.isnan(open_[t, i]):
                    continue
                o = open_[t, i]
                price = np.nan
                reason = REASON_STOP_LOSS
                if q[i] > 0.0:
                    sl = entry[i] * (1.0 - stop_loss)
                    tp = entry[i] * (1.0 + take_profit)
                    if stop_loss > 0.0 and o <= sl:
                        price = o
                    elif take_profit > 0.0 and o >= tp:
                        price, reason = o, REASON_TAKE_PROFIT
                    elif stop_loss > 0.0 and low[t, i] <= sl:
                        price = sl
                    elif take_profit > 0.0 and high[t, i] >= tp:
                        price, reason = tp, REASON_TAKE_PROFIT
                else:
                    sl = entry[i] * (1.0 + stop_loss)
                    tp = entry[i] * (1.0 - take_profit)
                    if stop_loss > 0.0 and o >= sl:
                        price = o
                    elif take_profit > 0.0 and o <= tp:
                        price, reason = o, REASON_TAKE_PROFIT
                    elif stop_loss > 0.0 and high[t, i] >= sl:
                        price = sl
                    elif take_profit > 0.0 and low[t, i] <= tp:
                        price, reason = tp, REASON_TAKE_PROFIT
                if not np.isnan(price):
                    _fill(t, i, -q[i], price, reason, q, mark, entry, state, fee_rate, slip_rate, impact,
                          quote_volume, asset_pnl, asset_cost, tr_t, tr_i, tr_q, tr_p, tr_fee, tr_slip,
                          tr_reason, tr_after)
        # 3. mark to the close, pay funding (gross / net exposure accumulate on the way); an asset
        #    silent for its delisting span is closed at its last price first
        value = 0.0
        gross = 0.0
        for i in range(n_assets):
            c = close[t, i]
            if c == c:  # not NaN
                last_seen[i] = ts[t]
            elif q[i] != 0.0 and last_seen[i] >= 0 and ts[t] - last_seen[i] >= delist_ns[i]:
                _fill(t, i, -q[i], mark[i], REASON_DELISTED, q, mark, entry, state, fee_rate, slip_rate,
                      impact, quote_volume, asset_pnl, asset_cost, tr_t, tr_i, tr_q, tr_p, tr_fee,
                      tr_slip, tr_reason, tr_after)
                if not np.isnan(pend[i]):
                    pend[i] = np.nan
                    n_pend -= 1
            qi = q[i]
            if qi != 0.0:
                if c == c:
                    pnl = qi * (c - mark[i])
                    asset_pnl[i] += pnl
                    state[2] += pnl
                    mark[i] = c
                if has_funding:
                    rate = _flex(funding, t, i)
                    if rate != 0.0:
                        pay = -qi * mark[i] * rate
                        state[0] += pay
                        fund_out[t] += pay
                        asset_fund[i] += pay
                v = qi * mark[i]
                value += v
                gross += abs(v)
            elif c == c:
                mark[i] = c
        nav_t = state[0] + value
        # 4. drawdown stop on the close NAV, and the margin call of a wiped-out account (NAV <= 0):
        #    every asset gets a closing order and the strategy stays flat
        if not halted:
            if nav_t > peak:
                peak = nav_t
            if nav_t <= 0.0 or (max_drawdown > 0.0 and nav_t <= peak * (1.0 - max_drawdown)):
                halted = True
                for i in range(n_assets):
                    if np.isnan(pend[i]):
                        n_pend += 1
                    pend[i] = 0.0
                    pend_reason[i] = REASON_RISK_STOP
        # 5. a decision on this bar replaces the waiting orders it names
        if not halted and row_of[t] >= 0:
            row = row_of[t]
            for i in range(n_assets):
                w = rows[row, i]
                if np.isnan(w):
                    continue
                if np.isnan(pend[i]):
                    n_pend += 1
                pend[i] = w
                pend_reason[i] = REASON_REBALANCE
        if exec_at_close and n_pend > 0:
            n_pend, filled = _fill_waiting(t, close, nav_t, pend, pend_reason, min_trade_value, q, mark, entry,
                                           state, fee_rate, slip_rate, impact, quote_volume, asset_pnl, asset_cost,
                                           tr_t, tr_i, tr_q, tr_p, tr_fee, tr_slip, tr_reason, tr_after)
            if filled:
                value = 0.0
                gross = 0.0
                for i in range(n_assets):
                    if q[i] != 0.0:
                        v = q[i] * mark[i]
                        value += v
                        gross += abs(v)
                nav_t = state[0] + value
        nav[t] = nav_t
        cash_out[t] = state[0]
        pnl_out[t] = state[2]
        fees_out[t] = state[3]
        slip_out[t] = state[4]
        traded_out[t] = state[5]
        gross_out[t] = gross / nav_t if nav_t != 0.0 else 0.0
        net_out[t] = value / nav_t if nav_t != 0.0 else 0.0
    n = int(state[6])
    return (nav, cash_out, pnl_out, fees_out, slip_out, fund_out, traded_out, gross_out, net_out,
            asset_pnl, asset_cost, asset_fund,
            tr_t[:n], tr_i[:n], tr_q[:n], tr_p[:n], tr_fee[:n], tr_slip[:n], tr_reason[:n], tr_after[:n])
