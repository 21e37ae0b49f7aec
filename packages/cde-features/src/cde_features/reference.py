"""Straightforward pandas implementations of the built-in factors: the test oracle and the benchmark
baseline. Deliberately plain (groupby per symbol, ``rolling``, ``ewm``, ``rolling.apply``); never used
by the calculator. Same definitions as the production factors (see their docstrings)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

LN2 = math.log(2.0)


def _ema(x: pd.Series, n: int, alpha: float, warm: int | None = None) -> pd.Series:
    """EMA seeded at the ``warm``-th valid value (default n) with the SMA of the n valid values ending
    there (then ``ewm(adjust=False)`` over the valid values)."""
    warm = n if warm is None else warm
    valid = x.dropna()
    out = pd.Series(np.nan, index=x.index)
    if len(valid) < warm:
        return out
    seeded = valid.copy()
    seeded.iloc[: warm - 1] = np.nan
    seeded.iloc[warm - 1] = valid.iloc[warm - n:warm].mean()
    out.loc[valid.index] = seeded.iloc[warm - 1:].ewm(alpha=alpha, adjust=False).mean().reindex(valid.index)
    return out


def _wilder_sum(x: pd.Series, n: int) -> pd.Series:
    """Wilder's running sum as TA-Lib keeps it: the sum of the first n − 1 valid values, then
    ``S − S/n + x`` at each later valid value (a loop: the recursion has no pandas form)."""
    valid = x.dropna()
    out = pd.Series(np.nan, index=x.index)
    if len(valid) < n:
        return out
    total = float(valid.iloc[: n - 1].sum())
    sums = []
    for v in valid.iloc[n - 1:]:
        total = total - total / n + v
        sums.append(total)
    out.loc[valid.index[n - 1:]] = sums
    return out


def _rma(x: pd.Series, n: int) -> pd.Series:
    return _ema(x, n, 1.0 / n)


def _r(x: pd.Series, n: int) -> Any:
    return x.rolling(n, min_periods=n)


def _nan0(den: pd.Series) -> pd.Series:
    return den.where(den > 0)


def _tr(b: pd.DataFrame) -> pd.Series:
    pc = b.close.shift(1)
    tr = pd.concat([b.high - b.low, (b.high - pc).abs(), (b.low - pc).abs()], axis=1).max(axis=1)
    return tr.where(pc.notna())


def _logret(b: pd.DataFrame) -> pd.Series:
    return np.log(b.close / b.close.shift(1))


def _z(x: pd.Series, n: int) -> pd.Series:
    return (x - _r(x, n).mean()) / _nan0(_r(x, n).std())


def _rs_term(b: pd.DataFrame) -> pd.Series:
    return (np.log(b.high / b.close) * np.log(b.high / b.open) + np.log(b.low / b.close) * np.log(b.low / b.open))


def _macd(b: pd.DataFrame, p: dict[str, int], ppo: bool) -> dict[str, pd.Series]:
    f, s, g = p.get("fast", 12), p.get("slow", 26), p.get("signal", 9)
    fast, slow = _ema(b.close, f, 2 / (f + 1), warm=s), _ema(b.close, s, 2 / (s + 1))
    line = 100 * (fast - slow) / slow if ppo else fast - slow
    sig = _ema(line, g, 2 / (g + 1))
    name = "ppo" if ppo else "macd"
    return {f"{name}_{f}_{s}_{g}": line, f"{name}_signal_{f}_{s}_{g}": sig, f"{name}_hist_{f}_{s}_{g}": line - sig}


def _adx(b: pd.DataFrame, n: int) -> dict[str, pd.Series]:
    up, down = b.high.diff(), -b.low.diff()
    pdm = pd.Series(np.where((up > down) & (up > 0), up, 0.0), index=b.index).where(up.notna())
    mdm = pd.Series(np.where((down > up) & (down > 0), down, 0.0), index=b.index).where(up.notna())
    tr = _wilder_sum(_tr(b), n)
    pdi, mdi = 100 * _wilder_sum(pdm, n) / tr, 100 * _wilder_sum(mdm, n) / tr
    dx = (100 * (pdi - mdi).abs() / (pdi + mdi)).where(pdi + mdi != 0, 0.0).where(pdi.notna())
    return {f"adx_{n}": _rma(dx, n), f"plus_di_{n}": pdi, f"minus_di_{n}": mdi}


def _mfi(b: pd.DataFrame, n: int) -> pd.Series:
    tp = (b.high + b.low + b.close) / 3
    ch = tp.diff()
    flow = tp * b.volume
    pos = _r(flow.where(ch > 0, 0.0).where(ch.notna()), n).sum()
    neg = _r(flow.where(ch < 0, 0.0).where(ch.notna()), n).sum()
    out = 100 - 100 / (1 + pos / _nan0(neg))
    return out.mask((neg == 0) & (pos > 0), 100.0).mask((neg == 0) & (pos == 0), 50.0)


def _cs(b: pd.DataFrame, n: int) -> pd.Series:
    hl = np.log(b.high / b.low) ** 2
    beta = hl + hl.shift(1)
    gamma = np.log(np.fmax(b.high, b.high.shift(1)) / np.fmin(b.low, b.low.shift(1))) ** 2
    k = 3 - 2 * math.sqrt(2)
    alpha = (np.sqrt(2 * beta) - np.sqrt(beta)) / k - np.sqrt(gamma.where(beta.notna()) / k)
    s = 2 * (np.exp(alpha) - 1) / (1 + np.exp(alpha))
    return _r(s.clip(lower=0.0), n).mean()


def _span(b: pd.DataFrame) -> pd.Series:
    return _nan0(b.high - b.low)


def _roll_spread(b: pd.DataFrame, n: int) -> pd.Series:
    r = _logret(b)
    cov = r.rolling(n, min_periods=n).cov(r.shift(1))
    return 2 * np.sqrt((-cov).clip(lower=0.0))


def _yz(b: pd.DataFrame, n: int) -> pd.Series:
    o = np.log(b.open / b.close.shift(1))
    c = np.log(b.close / b.open)
    k = 0.34 / (1.34 + (n + 1) / (n - 1))
    return np.sqrt((_r(o, n).var() + k * _r(c, n).var() + (1 - k) * _r(_rs_term(b), n).mean()).clip(lower=0.0))


def _stoch(b: pd.DataFrame, p: dict[str, int]) -> dict[str, pd.Series]:
    n, m = p.get("window", 14), p.get("smooth", 3)
    hh, ll = _r(b.high, n).max(), _r(b.low, n).min()
    k = 100 * (b.close - ll) / (hh - ll).where(hh > ll)
    return {f"stoch_k_{n}": k, f"stoch_d_{n}_{m}": _r(k, m).mean()}


def _aroon(b: pd.DataFrame, n: int) -> dict[str, pd.Series]:
    up = 100 * _r(b.high, n + 1).apply(np.argmax, raw=True) / n
    down = 100 * _r(b.low, n + 1).apply(np.argmin, raw=True) / n
    return {f"aroon_up_{n}": up, f"aroon_down_{n}": down, f"aroon_osc_{n}": up - down}


def _slope(y: pd.Series, n: int) -> pd.Series:
    x = np.arange(n) - (n - 1) / 2
    return _r(y, n).apply(lambda a: float(np.dot(x, a) / np.dot(x, x)), raw=True)


def _cci(b: pd.DataFrame, n: int) -> pd.Series:
    tp = (b.high + b.low + b.close) / 3
    md = _r(tp, n).apply(lambda a: float(np.mean(np.abs(a - a.mean()))), raw=True)
    return (tp - _r(tp, n).mean()) / (0.015 * _nan0(md))


W = Callable[[pd.DataFrame, int], Any]
_WINDOWED: dict[str, W] = {
    "ret_simple": lambda b, n: b.close / b.close.shift(n) - 1,
    "ret_log": lambda b, n: np.log(b.close / b.close.shift(n)),
    "vol_cc": lambda b, n: _r(_logret(b), n).std(),
    "vol_parkinson": lambda b, n: np.sqrt(_r(np.log(b.high / b.low) ** 2, n).mean() / (4 * LN2)),
    "vol_gk": lambda b, n: np.sqrt(_r(0.5 * np.log(b.high / b.low) ** 2
                                      - (2 * LN2 - 1) * np.log(b.close / b.open) ** 2, n).mean().clip(lower=0)),
    "vol_rs": lambda b, n: np.sqrt(_r(_rs_term(b), n).mean().clip(lower=0)),
    "vol_yz": _yz,
    "atr": lambda b, n: _rma(_tr(b), n),
    "natr": lambda b, n: _rma(_tr(b), n) / b.close,
    "roc": lambda b, n: 100 * (b.close / b.close.shift(n) - 1),
    "rsi": lambda b, n: _rsi(b.close, n),
    "willr": lambda b, n: -100 * (_r(b.high, n).max() - b.close) / (_r(b.high, n).max() - _r(b.low, n).min())
    .where(_r(b.high, n).max() > _r(b.low, n).min()),
    "ma_ratio": lambda b, n: b.close / _r(b.close, n).mean() - 1,
    "ema_ratio": lambda b, n: b.close / _ema(b.close, n, 2 / (n + 1)) - 1,
    "adx": _adx,
    "cci": _cci,
    "aroon": _aroon,
    "dist_high": lambda b, n: b.close / _r(b.high, n).max() - 1,
    "dist_low": lambda b, n: b.close / _r(b.low, n).min() - 1,
    "trend_slope": lambda b, n: _slope(np.log(b.close), n) * n,
    "volume_z": lambda b, n: _z(np.log1p(b.volume), n),
    "trades_z": lambda b, n: _z(np.log1p(b.n_trades.astype(float)), n),
    "volume_ratio": lambda b, n: b.volume / _nan0(_r(b.volume, n).mean()),
    "trade_size_ratio": lambda b, n: (b.volume / b.n_trades) / _r(b.volume / b.n_trades, n).mean() - 1,
    "obv": lambda b, n: _r(np.sign(b.close.diff()) * b.volume, n).sum() / _r(b.volume.where(b.close.diff()
                                                                                           .notna()), n).sum(),
    "vwap_dev": lambda b, n: b.close / (_r(b.quote_volume, n).sum() / _r(b.volume, n).sum()) - 1,
    "taker_buy_ratio": lambda b, n: _r(b.buy_volume, n).sum() / _nan0(_r(b.volume, n).sum()),
    "ofi_z": lambda b, n: _z((2 * b.buy_volume - b.volume) / _nan0(b.volume), n),
    "amihud": lambda b, n: 1e6 * _r(_logret(b).abs() / _nan0(b.quote_volume), n).mean(),
    "kyle_lambda": lambda b, n: 1e6 * _logret(b).rolling(n, min_periods=n).cov(2 * b.buy_quote_volume - b.quote_volume)
    / _r(2 * b.buy_quote_volume - b.quote_volume, n).var(),
    "mfi": _mfi,
    "cmf": lambda b, n: _r(((b.close - b.low) - (b.high - b.close)) / (b.high - b.low) * b.volume, n).sum()
    / _r(b.volume, n).sum(),
    "corr_ret_volume": lambda b, n: _logret(b).rolling(n, min_periods=n).corr(np.log1p(b.volume)),
    "roll_spread": _roll_spread,
    "corwin_schultz": _cs,
    "abdi_ranaldo": lambda b, n: np.sqrt((4 * _r((np.log(b.close.shift(1)) - 0.5 * np.log(b.high * b.low).shift(1))
                                                 * (np.log(b.close.shift(1)) - 0.5 * np.log(b.high * b.low)), n)
                                          .mean()).clip(lower=0)),
    "ret_autocorr": lambda b, n: _logret(b).rolling(n, min_periods=n).corr(_logret(b).shift(1)),
    "var_ratio": lambda b, n: _r(np.log(b.close / b.close.shift(4)), n).var() / (4 * _nan0(_r(_logret(b), n).var())),
    "skew": lambda b, n: _r(_logret(b), n).skew(),
    "kurt": lambda b, n: _r(_logret(b), n).kurt(),
    "max_ret": lambda b, n: _r(_logret(b), n).max(),
    "min_ret": lambda b, n: _r(_logret(b), n).min(),
    "downside_vol": lambda b, n: np.sqrt(_r(_logret(b).clip(upper=0) ** 2, n).mean()),
    "upside_vol": lambda b, n: np.sqrt(_r(_logret(b).clip(lower=0) ** 2, n).mean()),
    "ret_z": lambda b, n: _logret(b) / _nan0(_r(_logret(b), n).std()),
}

_PLAIN: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
    "vwap_dev_bar": lambda b: b.close / b.vwap - 1,
    "hl_range": lambda b: np.log(b.high / b.low),
    "clv": lambda b: ((b.close - b.low) - (b.high - b.close)) / _span(b),
    "body_ratio": lambda b: (b.close - b.open) / _span(b),
    "upper_shadow": lambda b: (b.high - np.maximum(b.open, b.close)) / _span(b),
    "lower_shadow": lambda b: (np.minimum(b.open, b.close) - b.low) / _span(b),
}


def _rsi(close: pd.Series, n: int) -> pd.Series:
    d = close.diff()
    ag, al = _rma(d.clip(lower=0).where(d.notna()), n), _rma((-d).clip(lower=0).where(d.notna()), n)
    out = 100 - 100 / (1 + ag / al.where(al > 0))
    return out.mask((al == 0) & (ag > 0), 100.0).mask((al == 0) & (ag == 0), 50.0)


def reference_series_factor(bars: pd.DataFrame, factor: str, params: dict[str, Any]) -> dict[str, pd.Series]:
    """One time-series factor of one symbol's bars (index ts) → {column: Series}."""
    from cde_features.reference_quant import quant_series_factor

    quant = quant_series_factor(bars, factor, params)
    if quant is not None:
        return quant
    if factor in ("macd", "ppo"):
        return _macd(bars, params, factor == "ppo")
    if factor == "stoch":
        return _stoch(bars, params)
    if factor == "ma_cross":
        f, s = params.get("fast", 24), params.get("slow", 168)
        return {f"ma_cross_{f}_{s}": _r(bars.close, f).mean() / _r(bars.close, s).mean() - 1}
    if factor in _PLAIN:
        return {factor: _PLAIN[factor](bars)}
    n = params["window"]
    out = _WINDOWED[factor](bars, n)
    return out if isinstance(out, dict) else {f"{factor}_{n}": out}


class PandasOps:
    """The 101-alpha operators on wide pandas frames (time × symbol)."""

    def rank(self, x: pd.DataFrame) -> pd.DataFrame:
        from cde_features.alpha_ops import RANK_DIGITS

        q = x.abs().max(axis=1) * 10.0 ** (-RANK_DIGITS)
        snapped = (x.div(q, axis=0)).round().mul(q, axis=0).where(q > 0, x, axis=0)
        return snapped.rank(axis=1, pct=True)

    def scale(self, x: pd.DataFrame) -> pd.DataFrame:
        return x.div(x.abs().sum(axis=1).where(lambda s: s > 0), axis=0)

    def where(self, cond: Any, a: Any, b: Any) -> pd.DataFrame:
        ref = next(v for v in (a, b, cond) if isinstance(v, pd.DataFrame))
        return pd.DataFrame(np.where(cond, a, b).astype(float), index=ref.index, columns=ref.columns)

    def signedpower(self, x: pd.DataFrame, a: float) -> pd.DataFrame:
        return np.sign(x) * x.abs() ** a

    def delay(self, x: pd.DataFrame, d: int) -> pd.DataFrame:
        return x.shift(d)

    def delta(self, x: pd.DataFrame, d: int) -> pd.DataFrame:
        return x.diff(d)

    def returns(self, close: pd.DataFrame) -> pd.DataFrame:
        return close / close.shift(1) - 1

    def ts_sum(self, x: pd.DataFrame, d: int) -> pd.DataFrame:
        return x.rolling(d).sum()

    def sma(self, x: pd.DataFrame, d: int) -> pd.DataFrame:
        return x.rolling(d).mean()

    def stddev(self, x: pd.DataFrame, d: int) -> pd.DataFrame:
        return x.rolling(d).std()

    def correlation(self, x: pd.DataFrame, y: pd.DataFrame, d: int) -> pd.DataFrame:
        return x.rolling(d).corr(y)

    def covariance(self, x: pd.DataFrame, y: pd.DataFrame, d: int) -> pd.DataFrame:
        return x.rolling(d).cov(y)

    def ts_min(self, x: pd.DataFrame, d: int) -> pd.DataFrame:
        return x.rolling(d).min()

    def ts_max(self, x: pd.DataFrame, d: int) -> pd.DataFrame:
        return x.rolling(d).max()

    def ts_argmax(self, x: pd.DataFrame, d: int) -> pd.DataFrame:
        return x.rolling(d).apply(np.argmax, raw=True)

    def ts_argmin(self, x: pd.DataFrame, d: int) -> pd.DataFrame:
        return x.rolling(d).apply(np.argmin, raw=True)

    def ts_rank(self, x: pd.DataFrame, d: int) -> pd.DataFrame:
        return x.rolling(d).rank(pct=True)

    def decay_linear(self, x: pd.DataFrame, d: int) -> pd.DataFrame:
        w = np.arange(1, d + 1, dtype=float)
        return x.rolling(d).apply(lambda a: float(np.dot(a, w) / w.sum()), raw=True)


def reference_features(panel: pd.DataFrame, specs: list[tuple[str, dict[str, Any]]]) -> pd.DataFrame:
    """The listed (factor, params) over a bars panel indexed by (ts, symbol), in pandas.

    Warm-up rows are set to NaN exactly as the calculator does (per symbol, per factor lookback given
    in ``params['_lookback']``)."""
    from cde_features.alphas import ALPHAS, AlphaData

    alphas = {f"alpha_{a.number:03d}": a for a in ALPHAS}
    columns: dict[str, pd.Series] = {}
    from cde_features.reference_quant import PANEL_FACTORS

    series_specs = [(f, p) for f, p in specs
                    if f not in alphas and not f.startswith("cs_") and f not in PANEL_FACTORS]
    parts: list[pd.DataFrame] = []
    for symbol, bars in panel.groupby(level=1, sort=True):
        b = bars.droplevel(1)
        cols: dict[str, pd.Series] = {}
        for factor, params in series_specs:
            for name, s in reference_series_factor(b, factor, params).items():
                s = s.astype(float)
                s.iloc[: params.get("_lookback", 0)] = np.nan
                cols[name] = s
        frame = pd.DataFrame(cols, index=b.index)
        frame["symbol"] = symbol
        parts.append(frame.set_index("symbol", append=True))
    if parts:
        merged = pd.concat(parts).reindex(panel.index)
        columns.update({c: merged[c] for c in merged.columns})
    wide = {c: panel[c].unstack(1) for c in ("open", "high", "low", "close", "volume", "vwap")}
    count = panel.groupby(level=1).cumcount()
    o = PandasOps()
    for factor, params in specs:
        if factor in alphas:
            a = alphas[factor]
            with np.errstate(all="ignore"):
                out = a.formula(o, AlphaData(o, wide)).stack(future_stack=True).reindex(panel.index)
            out = out.where(np.isfinite(out)).where(count >= a.lookback)
            columns[factor] = out
        elif factor in PANEL_FACTORS:
            columns.update(PANEL_FACTORS[factor](panel, params))
        elif factor.startswith("cs_"):
            src = columns[params["source"]].unstack(1)
            if factor == "cs_rank":
                res = src.rank(axis=1, pct=True)
                name = f"{params['source']}_csrank"
            elif factor == "cs_zscore":
                res = src.sub(src.mean(axis=1), axis=0).div(src.std(axis=1), axis=0)
                name = f"{params['source']}_csz"
            else:
                res = src.sub(src.mean(axis=1), axis=0)
                name = f"{params['source']}_csdm"
            columns[name] = res.stack(future_stack=True).reindex(panel.index)
    frame = pd.DataFrame(columns, index=panel.index)
    return frame.where(np.isfinite(frame))
