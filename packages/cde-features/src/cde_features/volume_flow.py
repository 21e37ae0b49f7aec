"""Volume, order-flow and liquidity factors (taker-side fields of the bars schema included)."""

from __future__ import annotations

import numpy as np

from cde_features.factor_base import Arrays, BarFactor, WindowFactor, window_params
from cde_features.returns import lagged, log_returns_of

#: Amihud and Kyle measures are scaled to "per million quote units" so values are O(1).
PER_MILLION = 1e6


def _zscore(x: np.ndarray, window: int) -> np.ndarray:
    from cde_features.kernels.rolling import rolling_mean, rolling_std

    sd = rolling_std(x, window, 1)
    return (x - rolling_mean(x, window)) / np.where(sd > 0, sd, np.nan)


def _ratio_of_sums(num: np.ndarray, den: np.ndarray, window: int) -> np.ndarray:
    from cde_features.kernels.rolling import rolling_sum

    d = rolling_sum(den, window)
    return rolling_sum(num, window) / np.where(d > 0, d, np.nan)


class VolumeZScore(WindowFactor):
    """z-score of ``ln(1 + volume)`` against its mean and std (ddof 1) over n bars (incl. this bar)."""

    name = "volume_z"
    group = "volume_flow"
    summary = "z-score of log volume over the window"
    inputs = ("volume",)
    Params = window_params(24, minimum=3)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        return _zscore(np.log1p(data["volume"]), window)


class TradeCountZScore(WindowFactor):
    """z-score of ``ln(1 + n_trades)`` over n bars."""

    name = "trades_z"
    group = "volume_flow"
    summary = "z-score of log trade count over the window"
    inputs = ("n_trades",)
    Params = window_params(168, minimum=3)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        return _zscore(np.log1p(data["n_trades"]), window)


class VolumeRatio(WindowFactor):
    """``volume_t / mean(volume over n bars)`` (relative volume)."""

    name = "volume_ratio"
    group = "volume_flow"
    summary = "volume relative to its rolling mean"
    inputs = ("volume",)
    Params = window_params(168)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_mean

        mean = rolling_mean(data["volume"], window)
        return data["volume"] / np.where(mean > 0, mean, np.nan)


class AverageTradeSizeRatio(WindowFactor):
    """Average trade size ``volume / n_trades`` relative to its rolling mean, minus 1."""

    name = "trade_size_ratio"
    group = "volume_flow"
    summary = "average trade size relative to its rolling mean - 1"
    inputs = ("volume", "n_trades")
    Params = window_params(168)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_mean

        size = data["volume"] / np.where(data["n_trades"] > 0, data["n_trades"], np.nan)
        return size / rolling_mean(size, window) - 1.0


class OnBalanceVolume(WindowFactor):
    """Windowed on-balance volume (Granville 1963): ``(OBV_t − OBV_{t−n}) / Σ volume`` over the last n
    bars, i.e. ``Σ sign(ΔC) · V / Σ V``, in [−1, 1]. (The cumulative OBV level depends on where the
    data starts, so only its n-bar change is a feature.)"""

    name = "obv"
    group = "volume_flow"
    summary = "n-bar change of on-balance volume / n-bar volume"
    inputs = ("close", "volume")
    Params = window_params(24, minimum=1)

    def warmup(self, window: int) -> int:
        return window

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        signed = np.sign(data["close"] - lagged(data["close"], 1)) * data["volume"]
        return _ratio_of_sums(signed, np.where(np.isnan(signed), np.nan, data["volume"]), window)


class VwapDeviation(BarFactor):
    """``close / vwap − 1`` of the bar (vwap = quote volume / volume of its trades)."""

    name = "vwap_dev_bar"
    group = "volume_flow"
    summary = "close relative to the bar's VWAP"
    inputs = ("close", "vwap")

    def calc(self, data: Arrays) -> np.ndarray:
        return data["close"] / data["vwap"] - 1.0


class RollingVwapDeviation(WindowFactor):
    """``close / VWAP_n − 1`` with ``VWAP_n = Σ quote_volume / Σ volume`` over n bars."""

    name = "vwap_dev"
    group = "volume_flow"
    summary = "close relative to the n-bar VWAP"
    inputs = ("close", "volume", "quote_volume")
    Params = window_params(24)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        return data["close"] / _ratio_of_sums(data["quote_volume"], data["volume"], window) - 1.0


class TakerBuyRatio(WindowFactor):
    """Share of volume bought by takers: ``Σ buy_volume / Σ volume`` over n bars (0.5 = balanced)."""

    name = "taker_buy_ratio"
    group = "volume_flow"
    summary = "taker-buy share of volume over the window"
    inputs = ("volume", "buy_volume")
    Params = window_params(24, minimum=1)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        return _ratio_of_sums(data["buy_volume"], data["volume"], window)


class OrderFlowImbalanceZ(WindowFactor):
    """z-score over n bars of the bar's order-flow imbalance ``(buy − sell) / volume =
    (2 buy_volume − volume) / volume`` (Chordia & Subrahmanyam 2004 trade imbalance)."""

    name = "ofi_z"
    group = "volume_flow"
    summary = "z-score of the taker order-flow imbalance"
    inputs = ("volume", "buy_volume")
    Params = window_params(24, minimum=3)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        vol = data["volume"]
        imbalance = (2.0 * data["buy_volume"] - vol) / np.where(vol > 0, vol, np.nan)
        return _zscore(imbalance, window)


class AmihudIlliquidity(WindowFactor):
    """Amihud (2002): ``mean(|r_t| / quote_volume_t)`` over n bars, ×10⁶ (r = 1-bar log return)."""

    name = "amihud"
    group = "volume_flow"
    summary = "Amihud illiquidity |return| / quote volume (per million)"
    inputs = ("close", "quote_volume")
    Params = window_params(24)

    def warmup(self, window: int) -> int:
        return window

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_mean

        qv = data["quote_volume"]
        ratio = np.abs(log_returns_of(data)) / np.where(qv > 0, qv, np.nan)
        return PER_MILLION * rolling_mean(ratio, window)


class KyleLambda(WindowFactor):
    """Kyle's (1985) lambda estimated as the OLS slope of 1-bar log returns on signed quote volume
    ``2 buy_quote_volume − quote_volume`` over n bars (Hasbrouck 2009 style), ×10⁶."""

    name = "kyle_lambda"
    group = "volume_flow"
    summary = "price impact: slope of return on signed quote volume (per million)"
    inputs = ("close", "quote_volume", "buy_quote_volume")
    Params = window_params(168, minimum=3)

    def warmup(self, window: int) -> int:
        return window

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_cov, rolling_var

        signed = 2.0 * data["buy_quote_volume"] - data["quote_volume"]
        ret = log_returns_of(data)
        var = rolling_var(signed, window, 1)
        return PER_MILLION * rolling_cov(ret, signed, window, 1) / np.where(var > 0, var, np.nan)


class MoneyFlowIndex(WindowFactor):
    """MFI (Quong & Soudack 1989): typical price ``TP = (H + L + C)/3``, money flow ``TP · V``,
    positive when TP rises, negative when it falls (a change within 8 ulps of TP is rounding, not a
    change); ``MFI = 100 − 100 / (1 + Σpos / Σneg)`` over n bars (100 when there is no negative flow,
    50 when there is no flow at all)."""

    name = "mfi"
    group = "volume_flow"
    summary = "money flow index (volume-weighted RSI, 0-100)"
    inputs = ("high", "low", "close", "volume")
    Params = window_params(14, minimum=1)

    def warmup(self, window: int) -> int:
        return window

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_sum

        tp = (data["high"] + data["low"] + data["close"]) / 3.0
        previous = lagged(tp, 1)
        change = tp - previous
        # (H + L + C) / 3 of bars at one price can differ in the last bits (0.1 + 0.2 + 0.3 is not
        # 0.3 + 0.2 + 0.1): a change within a few ulps of the price is no change, not money flow
        noise = 8.0 * np.finfo(np.float64).eps * np.maximum(np.abs(tp), np.abs(previous))
        change = np.where(np.abs(change) <= noise, 0.0, change)
        flow = tp * data["volume"]
        pos = rolling_sum(np.where(np.isnan(change), np.nan, np.where(change > 0, flow, 0.0)), window)
        neg = rolling_sum(np.where(np.isnan(change), np.nan, np.where(change < 0, flow, 0.0)), window)
        out = 100.0 - 100.0 / (1.0 + pos / np.where(neg > 0, neg, np.nan))
        return np.where((neg == 0) & (pos > 0), 100.0, np.where((neg == 0) & (pos == 0), 50.0, out))


class ChaikinMoneyFlow(WindowFactor):
    """CMF (Chaikin): ``Σ MFM·V / Σ V`` over n bars with ``MFM = ((C − L) − (H − C)) / (H − L)``
    (0 when H = L)."""

    name = "cmf"
    group = "volume_flow"
    summary = "Chaikin money flow (-1..1)"
    inputs = ("high", "low", "close", "volume")
    Params = window_params(20, minimum=1)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        h, lo, c = data["high"], data["low"], data["close"]
        span = h - lo
        mfm = np.where(span > 0, ((c - lo) - (h - c)) / np.where(span > 0, span, 1.0), 0.0)
        return _ratio_of_sums(mfm * data["volume"], data["volume"], window)


class VolumeReturnCorrelation(WindowFactor):
    """Pearson correlation of 1-bar log returns with ``ln(1 + volume)`` over n bars."""

    name = "corr_ret_volume"
    group = "volume_flow"
    summary = "correlation of returns with log volume"
    inputs = ("close", "volume")
    Params = window_params(24, minimum=3)

    def warmup(self, window: int) -> int:
        return window

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_corr

        return rolling_corr(log_returns_of(data), np.log1p(data["volume"]), window)
