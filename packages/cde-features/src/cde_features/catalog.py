"""Every built-in factor, as registered by :mod:`cde_features.plugin`."""

from __future__ import annotations

from typing import Any

from cde_features import (
    alphas,
    cross_sectional,
    distribution,
    market_relative,
    microstructure,
    momentum,
    perpetual,
    returns,
    risk,
    seasonality,
    technical,
    trading_activity,
    volatility,
    volume_flow,
)

_CLASSES: tuple[type, ...] = (
    returns.SimpleReturn, returns.LogReturn,
    volatility.CloseToCloseVol, volatility.ParkinsonVol, volatility.GarmanKlassVol,
    volatility.RogersSatchellVol, volatility.YangZhangVol, volatility.AverageTrueRange,
    volatility.NormalizedATR,
    momentum.RateOfChange, momentum.RelativeStrengthIndex, momentum.Macd,
    momentum.PercentagePriceOscillator, momentum.Stochastic, momentum.WilliamsR,
    momentum.MovingAverageRatio, momentum.EmaRatio, momentum.MovingAverageCross,
    momentum.AverageDirectionalIndex, momentum.CommodityChannelIndex, momentum.Aroon,
    momentum.DistanceFromHigh, momentum.DistanceFromLow, momentum.TrendSlope,
    volume_flow.VolumeZScore, volume_flow.TradeCountZScore, volume_flow.VolumeRatio,
    volume_flow.AverageTradeSizeRatio, volume_flow.OnBalanceVolume, volume_flow.VwapDeviation,
    volume_flow.RollingVwapDeviation, volume_flow.TakerBuyRatio, volume_flow.OrderFlowImbalanceZ,
    volume_flow.AmihudIlliquidity, volume_flow.KyleLambda, volume_flow.MoneyFlowIndex,
    volume_flow.ChaikinMoneyFlow, volume_flow.VolumeReturnCorrelation,
    microstructure.RollSpread, microstructure.CorwinSchultzSpread, microstructure.AbdiRanaldoSpread,
    microstructure.ReturnAutocorrelation, microstructure.VarianceRatio, microstructure.HighLowRange,
    microstructure.CloseLocationValue, microstructure.BodyRatio, microstructure.UpperShadow,
    microstructure.LowerShadow,
    distribution.ReturnSkew, distribution.ReturnKurtosis, distribution.MaxReturn, distribution.MinReturn,
    distribution.DownsideVolatility, distribution.UpsideVolatility, distribution.ReturnZScore,
    cross_sectional.CrossSectionalRank, cross_sectional.CrossSectionalZScore,
    cross_sectional.CrossSectionalDemean,
    *technical.FACTORS, *risk.FACTORS, *trading_activity.FACTORS, *seasonality.FACTORS,
    *market_relative.FACTORS, *perpetual.FACTORS,
)


def builtin_factors() -> list[Any]:
    """Fresh instances of every built-in factor (time-series first, then alphas, then transforms)."""
    return [cls() for cls in _CLASSES] + alphas.alpha_factors()
