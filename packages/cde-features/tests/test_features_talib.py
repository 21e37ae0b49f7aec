"""MACD, ADX / DI, RSI and ATR equal TA-Lib's own output from its first value on (no seeding
difference in the first ~100 / ~190 bars), for default and other parameters."""

from __future__ import annotations

import numpy as np
import pytest

from cde_features.calculator import compute_features
from cde_features.synthetic import synthetic_panel

talib = pytest.importorskip("talib")  # a dev dependency (binary wheels on PyPI)
N = 600


@pytest.fixture(scope="module")
def bars():
    return synthetic_panel(1, N, seed=13).droplevel(1)


def ours(bars, factor: str, params: dict) -> dict[str, np.ndarray]:
    from cde_core.local_executor import LocalExecutor, LocalExecutorParams

    panel = bars.assign(symbol="X").set_index("symbol", append=True)
    out = compute_features(panel, [factor], params={factor: params},
                           executor=LocalExecutor(LocalExecutorParams(max_workers=1)))
    return {c: out[c].to_numpy() for c in out.columns}


def same_from_first_value(got: np.ndarray, want: np.ndarray, first: int | None = None) -> None:
    first = int(np.flatnonzero(~np.isnan(want))[0]) if first is None else first
    assert np.isnan(got[:first]).all(), "values before TA-Lib's first one"
    np.testing.assert_allclose(got[first:], want[first:], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("fast", "slow", "signal"), [(12, 26, 9), (5, 35, 5), (3, 10, 16)])
def test_macd_is_talibs(bars, fast: int, slow: int, signal: int) -> None:
    line, sig, hist = talib.MACD(bars["close"].to_numpy(), fast, slow, signal)
    got = ours(bars, "macd", {"fast": fast, "slow": slow, "signal": signal})
    suffix = f"{fast}_{slow}_{signal}"
    same_from_first_value(got[f"macd_{suffix}"], line)
    same_from_first_value(got[f"macd_signal_{suffix}"], sig)
    same_from_first_value(got[f"macd_hist_{suffix}"], hist)


@pytest.mark.parametrize("n", [14, 5, 30])
def test_adx_and_di_are_talibs(bars, n: int) -> None:
    h, lo, c = (bars[k].to_numpy() for k in ("high", "low", "close"))
    got = ours(bars, "adx", {"window": n})
    # one warm-up per factor: +DI / -DI (TA-Lib's from bar n) are given from ADX's first bar, 2n - 1
    same_from_first_value(got[f"plus_di_{n}"], talib.PLUS_DI(h, lo, c, n), first=2 * n - 1)
    same_from_first_value(got[f"minus_di_{n}"], talib.MINUS_DI(h, lo, c, n), first=2 * n - 1)
    same_from_first_value(got[f"adx_{n}"], talib.ADX(h, lo, c, n))


@pytest.mark.parametrize("n", [14, 3])
def test_rsi_and_atr_are_talibs(bars, n: int) -> None:
    h, lo, c = (bars[k].to_numpy() for k in ("high", "low", "close"))
    same_from_first_value(ours(bars, "rsi", {"window": n})[f"rsi_{n}"], talib.RSI(c, n))
    same_from_first_value(ours(bars, "atr", {"window": n})[f"atr_{n}"], talib.ATR(h, lo, c, n))
