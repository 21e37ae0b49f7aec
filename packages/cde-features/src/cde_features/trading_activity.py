"""Size of trading and toxicity of the order flow: log dollar volume and VPIN."""

from __future__ import annotations

import numpy as np

from cde_features.factor_base import Arrays, WindowFactor, window_params


class LogDollarVolume(WindowFactor):
    """``ln(mean quote volume over n bars)``: the usual size / liquidity control in cross-sectional
    models (quote volume is the dollar volume for USDT-quoted pairs). NaN when there was no trade."""

    name = "log_dollar_volume"
    group = "volume_flow"
    summary = "log of the mean quote (dollar) volume over the window"
    inputs = ("quote_volume",)
    Params = window_params(24, minimum=1)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_mean

        mean = rolling_mean(data["quote_volume"], window)
        return np.log(np.where(mean > 0, mean, np.nan))


class Vpin(WindowFactor):
    """VPIN (Easley, López de Prado & O'Hara 2012): ``Σ |V_buy − V_sell| / Σ V`` over the last n bars,
    with the exchange's own taker-side split of each bar's volume (``buy_volume``) in place of bulk
    volume classification. On volume bars each bar is one of the paper's equal-volume buckets, so
    this is their estimator with n buckets (the paper's n = 50); on time bars it is the time-bar
    analogue. In [0, 1]; NaN when the window traded nothing."""

    name = "vpin"
    group = "volume_flow"
    summary = "volume-synchronised probability of informed trading (taker-side split)"
    inputs = ("volume", "buy_volume")
    Params = window_params(50, "bars (volume buckets) in the window", minimum=1)

    def calc(self, data: Arrays, window: int) -> np.ndarray:
        from cde_features.kernels.rolling import rolling_sum

        volume = data["volume"]
        imbalance = rolling_sum(np.abs(2.0 * data["buy_volume"] - volume), window)
        total = rolling_sum(volume, window)
        return imbalance / np.where(total > 0, total, np.nan)


#: the factors of this module, as registered by cde_features.catalog
FACTORS: tuple[type, ...] = (LogDollarVolume, Vpin)
