"""Each stylised fact documented in docs/simulation.md, measured on the simulated market.

Bands are set from the documented values (measured over 20 seeds) with room for one seed's noise;
each test also has a counterfactual (the fact switched off) where one is cheap, so a test cannot
pass because the measurement is blind.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from cde_exchanges.fakes.simulation import (
    MarketSpec,
    hourly_profile,
    latent_market,
    simulate_daily_path,
    simulate_day,
    weekly_momentum_rank_ic,
)

LONG = MarketSpec(symbols=[f"S{i:02d}USDT" for i in range(30)], start=date(2000, 1, 1),
                  end=date(2019, 12, 31), seed=3)
DEFAULT = MarketSpec()

#: documented in docs/simulation.md (20 seeds × 30 symbols × 20 years)
DOCUMENTED_RANK_IC = 0.145
DOCUMENTED_MEAN_CORRELATION = 0.61


def reference_weekly_rank_ic(closes: pd.DataFrame, lookback: int = 28, horizon: int = 7) -> pd.Series:
    """Slow, obvious reference: one pandas Spearman correlation per week."""
    values = {}
    for t in range(lookback, len(closes) - horizon, horizon):
        past = np.log(closes.iloc[t] / closes.iloc[t - lookback])
        future = np.log(closes.iloc[t + horizon] / closes.iloc[t])
        values[closes.index[t]] = past.rank().corr(future.rank())  # Spearman = Pearson of ranks
    return pd.Series(values)


def test_rank_ic_diagnostic_matches_the_slow_reference() -> None:
    closes = simulate_daily_path(LONG.model_copy(update={"end": date(2001, 12, 31)}))
    fast = weekly_momentum_rank_ic(closes)
    slow = reference_weekly_rank_ic(closes)
    np.testing.assert_allclose(fast.to_numpy(), slow.to_numpy(), atol=1e-12)


def test_momentum_rank_ic_is_positive_and_near_the_documented_value() -> None:
    ic = weekly_momentum_rank_ic(simulate_daily_path(LONG))
    assert len(ic) > 1000
    assert abs(ic.mean() - DOCUMENTED_RANK_IC) < 0.035
    t_stat = ic.mean() / (ic.std() / np.sqrt(len(ic)))
    assert t_stat > 10


def test_without_momentum_the_rank_ic_vanishes() -> None:
    ic = weekly_momentum_rank_ic(simulate_daily_path(LONG.model_copy(update={"momentum_strength": 0.0})))
    assert abs(ic.mean()) < 0.025


def test_daily_returns_share_a_market_factor() -> None:
    returns = np.diff(np.log(simulate_daily_path(LONG).to_numpy()), axis=0)
    corr = np.corrcoef(returns.T)
    pairwise = corr[np.triu_indices_from(corr, k=1)]
    assert abs(pairwise.mean() - DOCUMENTED_MEAN_CORRELATION) < 0.05
    assert pairwise.min() > 0.4


def test_volatility_regimes_switch_like_the_markov_chain_says() -> None:
    market = latent_market(LONG)
    regime = market.regime
    changes = np.flatnonzero(np.diff(regime)) + 1
    spells = np.split(regime, changes)
    calm = [len(s) for s in spells[:-1] if s[0] == 0]
    turbulent = [len(s) for s in spells[:-1] if s[0] == 1]
    assert abs(np.mean(calm) / LONG.calm_mean_days - 1) < 0.2
    assert abs(np.mean(turbulent) / LONG.turbulent_mean_days - 1) < 0.2
    # realised volatility of the equal-weight market return follows the regime
    market_return = market.log_return.mean(axis=1)
    ratio = market_return[regime == 1].std() / market_return[regime == 0].std()
    assert 1.7 < ratio < 2.3  # factor vol × 2, idio vol × √2 mostly diversified away
    # and therefore volatility clusters: |return| is autocorrelated day to day
    absolute = np.abs(market_return)
    assert np.corrcoef(absolute[1:], absolute[:-1])[0, 1] > 0.1


def test_trade_intensity_follows_the_hour_of_day_profile() -> None:
    spec = DEFAULT.model_copy(update={"trades_per_day": 5_000})
    counts = np.zeros(24)
    for day in spec.days()[:14]:
        ts = simulate_day(spec, "ETHUSDT", day)["ts"].cast(pa.int64()).to_numpy()
        counts += np.bincount((ts // 3_600_000_000) % 24, minlength=24)
    profile = hourly_profile(spec)
    assert np.corrcoef(counts, profile)[0, 1] > 0.9
    assert abs(int(np.argmax(counts)) - spec.peak_hour_utc) <= 2
    assert counts.max() / counts.min() > 1.8  # (1 + 0.45) / (1 - 0.45) ≈ 2.6 in expectation
    flat = spec.model_copy(update={"seasonality_amplitude": 0.0})
    flat_counts = np.zeros(24)
    for day in spec.days()[:14]:
        ts = simulate_day(flat, "ETHUSDT", day)["ts"].cast(pa.int64()).to_numpy()
        flat_counts += np.bincount((ts // 3_600_000_000) % 24, minlength=24)
    assert flat_counts.max() / flat_counts.min() < 1.5


def test_weekends_trade_less() -> None:
    n = latent_market(DEFAULT).n_trades.sum(axis=1)
    weekend = np.array([d.weekday() >= 5 for d in DEFAULT.days()])
    assert 0.6 < n[weekend].mean() / n[~weekend].mean() < 0.95


def _excess_kurtosis(x: np.ndarray) -> float:
    centred = x - x.mean()
    return float((centred**4).mean() / (centred**2).mean() ** 2 - 3)


def test_trade_sizes_are_heavy_tailed_log_normal() -> None:
    table = simulate_day(DEFAULT, "BTCUSDT", date(2024, 1, 10))
    notional = table["quote_qty"].to_numpy()
    assert _excess_kurtosis(notional) > 20  # a normal has 0, an exponential 6
    assert abs(np.log(notional).std() - DEFAULT.size_log_sigma) < 0.05
    assert notional.max() / np.median(notional) > 100


def test_quote_volumes_span_orders_of_magnitude_and_match_the_latent_plan() -> None:
    spec = DEFAULT.model_copy(update={"trades_per_day": 4_000})
    market = latent_market(spec)
    mean_qv = market.quote_volume.mean(axis=0)
    assert mean_qv.max() / mean_qv.min() > 10**2.5
    day = date(2024, 2, 1)
    row = market.row(day)
    for column, symbol in enumerate(spec.symbols):
        realised = float(np.sum(simulate_day(spec, symbol, day)["quote_qty"].to_numpy()))
        assert realised == pytest.approx(market.quote_volume[row, column], rel=0.15)


def test_top_n_by_trailing_quote_volume_changes_membership_over_the_default_period() -> None:
    market = latent_market(DEFAULT)
    qv = pd.DataFrame(market.quote_volume, columns=list(market.symbols))
    trailing = qv.rolling(7).sum().shift(1).dropna()
    for n in (3, 5):
        members = [frozenset(row.nlargest(n).index) for _, row in trailing.iterrows()]
        changes = sum(a != b for a, b in itertools.pairwise(members))
        assert 1 <= changes <= len(members) // 4  # changes, but a universe is not noise either


def test_the_market_is_a_function_of_the_seed_and_days_are_spread_over_the_calendar() -> None:
    path = simulate_daily_path(DEFAULT)
    assert path.index[0] == DEFAULT.start and path.index[-1] == DEFAULT.end
    assert list(path.index) == [DEFAULT.start + timedelta(days=i) for i in range(DEFAULT.n_days)]
    assert not path.equals(simulate_daily_path(DEFAULT.model_copy(update={"seed": DEFAULT.seed + 1})))
