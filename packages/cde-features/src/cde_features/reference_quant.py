"""Plain pandas / loop implementations of the quant-desk factors (technical, risk, seasonality,
VPIN, market model, perpetuals), written from the published definitions (TA-Lib's for the technical
indicators) independently of the Numba kernels: the test oracle and the benchmark baseline, joined to
:mod:`cde_features.reference`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cde_features.reference import _ema, _r, _rma, _rsi, _tr, _z


def _bollinger(b: pd.DataFrame, n: int) -> tuple[pd.Series, pd.Series, pd.Series]:
    mid = _r(b.close, n).mean()
    sd = _r(b.close, n).std(ddof=0)  # TA-Lib BBANDS: population standard deviation
    return mid - 2 * sd, mid, mid + 2 * sd


def _cmo(b: pd.DataFrame, n: int) -> pd.Series:
    """Chande's formula: plain sums of up and down moves over the last n changes."""
    d = b.close.diff()
    up, down = _r(d.clip(lower=0), n).sum(), _r((-d).clip(lower=0), n).sum()
    return 100 * (up - down) / (up + down).where(up + down > 0)


def _trix(b: pd.DataFrame, n: int) -> pd.Series:
    a = 2 / (n + 1)
    e3 = _ema(_ema(_ema(b.close, n, a), n, a), n, a)
    return 100 * e3.pct_change(fill_method=None)


def _kama(b: pd.DataFrame, n: int) -> pd.Series:
    """TA-Lib KAMA (fast 2, slow 30), seeded with the close before the first value."""
    c = b.close.to_numpy()
    out = np.full(len(c), np.nan)
    if len(c) <= n:
        return pd.Series(out, index=b.index)
    fast, slow = 2 / 3, 2 / 31
    kama = c[n - 1]
    for t in range(n, len(c)):
        move = abs(c[t] - c[t - n])
        path = np.abs(np.diff(c[t - n:t + 1])).sum()
        er = 1.0 if path <= move else move / path
        kama += (er * (fast - slow) + slow) ** 2 * (c[t] - kama)
        out[t] = kama
    return pd.Series(c / out - 1, index=b.index)


def _stochrsi(b: pd.DataFrame, p: dict[str, Any]) -> dict[str, pd.Series]:
    n, m, s = p.get("window", 14), p.get("stoch", 14), p.get("smooth", 3)
    rsi = _rsi(b.close, n)
    lo, hi = _r(rsi, m).min(), _r(rsi, m).max()
    k = 100 * (rsi - lo) / (hi - lo).where(hi > lo)
    return {f"stochrsi_k_{n}_{m}": k, f"stochrsi_d_{n}_{m}_{s}": _r(k, s).mean()}


def _vol_ewma(b: pd.DataFrame, halflife: int) -> pd.Series:
    r2 = (np.log(b.close / b.close.shift(1)) ** 2).dropna()
    var = r2.ewm(alpha=1 - 0.5 ** (1 / halflife), adjust=False).mean().reindex(b.index)
    return np.sqrt(var)


def _max_drawdown(b: pd.DataFrame, n: int) -> pd.Series:
    return _r(b.close, n).apply(lambda a: float(np.max(1 - a / np.maximum.accumulate(a))), raw=True)


def _hurst(b: pd.DataFrame, n: int) -> pd.Series:
    lags = np.array([1, 2, 4, 8, 16])
    x = np.log(b.close)
    log_sd = np.column_stack([np.log(x.diff(lag).rolling(n - lag).std(ddof=0)) for lag in lags])
    out = np.full(len(x), np.nan)
    ok = np.isfinite(log_sd).all(axis=1)
    if ok.any():
        out[ok] = np.polyfit(np.log(lags), log_sd[ok].T, 1)[0]
    return pd.Series(out, index=b.index)


def _season(b: pd.DataFrame, p: dict[str, Any], weekly: bool) -> dict[str, pd.Series]:
    period, cycles = p.get("period", 24), p.get("cycles", 4 if weekly else 28)
    log_close = np.log(b.close)
    if weekly:  # the next `period` bars' return, on the same weekday of past weeks
        day = log_close - log_close.shift(period)
        past = [day.shift(7 * period * k - period) for k in range(1, cycles + 1)]
    else:  # the next bar's return, at the same time of day on past days
        bar = log_close.diff()
        past = [bar.shift(period * k - 1) for k in range(1, cycles + 1)]
    name = f"season_{'dow' if weekly else 'hod'}_{period}_{cycles}"
    return {name: pd.concat(past, axis=1).mean(axis=1, skipna=False)}


_WINDOWED = {
    "bb_pctb": lambda b, n: (b.close - _bollinger(b, n)[0]) / (_bollinger(b, n)[2] - _bollinger(b, n)[0]),
    "bb_width": lambda b, n: (_bollinger(b, n)[2] - _bollinger(b, n)[0]) / _bollinger(b, n)[1],
    "keltner_width": lambda b, n: 4 * _rma(_tr(b), 10) / _ema(b.close, n, 2 / (n + 1)),
    "donchian_width": lambda b, n: (_r(b.high, n).max() - _r(b.low, n).min())
    / ((_r(b.high, n).max() + _r(b.low, n).min()) / 2),
    "cmo": _cmo,
    "trix": _trix,
    "kama_ratio": _kama,
    "vol_ewma": _vol_ewma,
    "log_dollar_volume": lambda b, n: np.log(_r(b.quote_volume, n).mean()),
    "max_drawdown": _max_drawdown,
    "hurst": _hurst,
    "vpin": lambda b, n: _r((b.buy_volume - (b.volume - b.buy_volume)).abs(), n).sum() / _r(b.volume, n).sum(),
    "funding_mean": lambda b, n: _r(b.funding_last, n).mean(),
    "funding_z": lambda b, n: _z(b.funding_last, n),
    "basis_z": lambda b, n: _z(b.close / b.spot_close - 1, n),
}


def quant_series_factor(bars: pd.DataFrame, factor: str, params: dict[str, Any]) -> dict[str, pd.Series] | None:
    """One quant time-series factor of one symbol's bars → {column: Series}; None if not one of them."""
    if factor == "stochrsi":
        return _stochrsi(bars, params)
    if factor == "mom_skip":
        n, s = params.get("window", 168), params.get("skip", 24)
        return {f"mom_skip_{n}_{s}": np.log(bars.close.shift(s) / bars.close.shift(n))}
    if factor in ("season_hod", "season_dow"):
        return _season(bars, params, factor == "season_dow")
    if factor == "funding_rate":
        return {"funding_rate": bars.funding_last.astype(float)}
    if factor == "basis":
        return {"basis": bars.close / bars.spot_close - 1}
    if factor in _WINDOWED:
        n = params["window"]
        return {f"{factor}_{n}": _WINDOWED[factor](bars, n)}
    return None


def market_model(panel: pd.DataFrame, params: dict[str, Any]) -> dict[str, pd.Series]:
    """Rolling beta / correlation / idiosyncratic volatility against the market, in pandas."""
    n, market = params.get("window", 168), params.get("market", "ew")
    close = panel["close"].unstack(1)
    r = np.log(close / close.shift(1))
    m = r.mean(axis=1) if market == "ew" else r[market]
    cov = r.rolling(n, min_periods=n).cov(m)
    var_m = m.rolling(n, min_periods=n).var()
    var_r = r.rolling(n, min_periods=n).var()
    beta = cov.div(var_m, axis=0)
    corr = r.rolling(n, min_periods=n).corr(m)
    ssr = (var_r - cov.pow(2).div(var_m, axis=0)).clip(lower=0) * (n - 1)
    idio = np.sqrt(ssr / (n - 2))
    tag = market.lower()
    out = {f"beta_{tag}_{n}": beta, f"mkt_corr_{tag}_{n}": corr, f"idio_vol_{tag}_{n}": idio}
    count = panel.groupby(level=1).cumcount()
    return {c: v.stack(future_stack=True).reindex(panel.index).where(count >= n) for c, v in out.items()}


#: panel (cross-sectional) quant factors → their pandas reference
PANEL_FACTORS = {"market_beta": market_model}
