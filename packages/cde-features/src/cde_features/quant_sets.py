"""Where the quant-desk factors (technical, risk, seasonality, market model, VPIN, perpetuals) sit in
the feature sets: the cheap bar-only ones join ``default``; the perpetual ones, which need the lake's
funding tree and spot bars, form the ``perp`` set (``default`` plus them)."""

from __future__ import annotations

from typing import Any

from cde_features.feature_set import FactorSpec, FeatureSet


def _spec(factor: str, **params: Any) -> FactorSpec:
    return FactorSpec(factor=factor, params=params)


def quant_default_specs() -> list[FactorSpec]:
    """Additions to the ``default`` set: bars only, so always available."""
    specs = [_spec("bb_pctb", window=20), _spec("bb_width", window=20), _spec("keltner_width", window=20),
             _spec("donchian_width", window=20), _spec("stochrsi"), _spec("cmo", window=14),
             _spec("trix", window=15), _spec("kama_ratio", window=10),
             _spec("mom_skip", window=168, skip=24), _spec("mom_skip", window=672, skip=24),
             _spec("vol_ewma", window=24), _spec("vol_ewma", window=168),
             _spec("log_dollar_volume", window=24), _spec("log_dollar_volume", window=168),
             _spec("max_drawdown", window=168), _spec("hurst", window=168), _spec("vpin", window=50),
             _spec("season_hod", period=24, cycles=28), _spec("season_dow", period=24, cycles=4),
             _spec("market_beta", window=168, market="ew")]
    return specs


def perp_specs() -> list[FactorSpec]:
    """The perpetual-futures factors (lake inputs ``funding_last`` and ``spot_close``)."""
    return [_spec("funding_rate"), _spec("funding_mean", window=24), _spec("funding_mean", window=168),
            _spec("funding_z", window=168), _spec("basis"), _spec("basis_z", window=168)]


def perp_feature_set() -> FeatureSet:
    """``perp``: everything in ``default`` plus the funding and basis factors, for um/cm bars."""
    from cde_features.feature_set import default_feature_set

    base = default_feature_set()
    return FeatureSet(name="perp", factors=[*base.factors, *perp_specs()])
