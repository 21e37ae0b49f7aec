"""Alpha factors transcribed from "101 Formulaic Alphas" (Kakushadze 2016, arXiv:1601.00991,
Appendix A), the ones that need only OHLCV + vwap (no industry neutralisation, no market cap).

Each formula is written once against an operator set ``o`` (:class:`cde_features.alpha_ops.GridOps`
for production; the pandas reference in :mod:`cde_features.reference` runs the same formulas on
pandas operators as the benchmark baseline and test oracle). Operator conventions are documented in
:mod:`cde_features.alpha_ops`. Days in the paper are bars here. Values are the raw formula
(including the paper's outer ``rank``); ±inf (e.g. a zero denominator) becomes NaN in the output.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel

from cde_features.factor_base import PanelFactor

ALPHA_INPUTS = ("open", "high", "low", "close", "volume", "vwap")


class AlphaData:
    """The formula variables: open, high, low, close, volume, vwap, returns and ``adv(d)``."""

    def __init__(self, o: Any, grids: Mapping[str, Any]) -> None:
        self.o = o
        self.open, self.high, self.low = grids["open"], grids["high"], grids["low"]
        self.close, self.volume, self.vwap = grids["close"], grids["volume"], grids["vwap"]

    @functools.cached_property
    def returns(self) -> Any:
        """One-bar simple returns (computed on first use: most formulas do not need them)."""
        return self.o.returns(self.close)

    def adv(self, d: int) -> Any:
        return self.o.sma(self.volume, d)


Formula = Callable[[Any, AlphaData], Any]


def a001(o: Any, x: AlphaData) -> Any:
    inner = o.where(x.returns < 0, o.stddev(x.returns, 20), x.close)
    return o.rank(o.ts_argmax(o.signedpower(inner, 2.0), 5)) - 0.5


def a002(o: Any, x: AlphaData) -> Any:
    return -1 * o.correlation(o.rank(o.delta(np.log(x.volume), 2)), o.rank((x.close - x.open) / x.open), 6)


def a003(o: Any, x: AlphaData) -> Any:
    return -1 * o.correlation(o.rank(x.open), o.rank(x.volume), 10)


def a004(o: Any, x: AlphaData) -> Any:
    return -1 * o.ts_rank(o.rank(x.low), 9)


def a005(o: Any, x: AlphaData) -> Any:
    return o.rank(x.open - o.ts_sum(x.vwap, 10) / 10) * (-1 * np.abs(o.rank(x.close - x.vwap)))


def a006(o: Any, x: AlphaData) -> Any:
    return -1 * o.correlation(x.open, x.volume, 10)


def a007(o: Any, x: AlphaData) -> Any:
    d7 = o.delta(x.close, 7)
    return o.where(x.adv(20) < x.volume, -1 * o.ts_rank(np.abs(d7), 60) * np.sign(d7), -1.0)


def a008(o: Any, x: AlphaData) -> Any:
    inner = o.ts_sum(x.open, 5) * o.ts_sum(x.returns, 5)
    return -1 * o.rank(inner - o.delay(inner, 10))


def _a009_like(o: Any, x: AlphaData, d: int) -> Any:
    dc = o.delta(x.close, 1)
    return o.where(o.ts_min(dc, d) > 0, dc, o.where(o.ts_max(dc, d) < 0, dc, -1 * dc))


def a009(o: Any, x: AlphaData) -> Any:
    return _a009_like(o, x, 5)


def a010(o: Any, x: AlphaData) -> Any:
    return o.rank(_a009_like(o, x, 4))


def a011(o: Any, x: AlphaData) -> Any:
    spread = x.vwap - x.close
    return (o.rank(o.ts_max(spread, 3)) + o.rank(o.ts_min(spread, 3))) * o.rank(o.delta(x.volume, 3))


def a012(o: Any, x: AlphaData) -> Any:
    return np.sign(o.delta(x.volume, 1)) * (-1 * o.delta(x.close, 1))


def a013(o: Any, x: AlphaData) -> Any:
    return -1 * o.rank(o.covariance(o.rank(x.close), o.rank(x.volume), 5))


def a014(o: Any, x: AlphaData) -> Any:
    return (-1 * o.rank(o.delta(x.returns, 3))) * o.correlation(x.open, x.volume, 10)


def a015(o: Any, x: AlphaData) -> Any:
    return -1 * o.ts_sum(o.rank(o.correlation(o.rank(x.high), o.rank(x.volume), 3)), 3)


def a016(o: Any, x: AlphaData) -> Any:
    return -1 * o.rank(o.covariance(o.rank(x.high), o.rank(x.volume), 5))


def a017(o: Any, x: AlphaData) -> Any:
    return ((-1 * o.rank(o.ts_rank(x.close, 10))) * o.rank(o.delta(o.delta(x.close, 1), 1))
            * o.rank(o.ts_rank(x.volume / x.adv(20), 5)))


def a018(o: Any, x: AlphaData) -> Any:
    body = x.close - x.open
    return -1 * o.rank(o.stddev(np.abs(body), 5) + body + o.correlation(x.close, x.open, 10))


def a019(o: Any, x: AlphaData) -> Any:
    move = (x.close - o.delay(x.close, 7)) + o.delta(x.close, 7)
    return (-1 * np.sign(move)) * (1 + o.rank(1 + o.ts_sum(x.returns, 250)))


def a020(o: Any, x: AlphaData) -> Any:
    return ((-1 * o.rank(x.open - o.delay(x.high, 1))) * o.rank(x.open - o.delay(x.close, 1))
            * o.rank(x.open - o.delay(x.low, 1)))


def a022(o: Any, x: AlphaData) -> Any:
    return -1 * (o.delta(o.correlation(x.high, x.volume, 5), 5) * o.rank(o.stddev(x.close, 20)))


def a023(o: Any, x: AlphaData) -> Any:
    return o.where(o.ts_sum(x.high, 20) / 20 < x.high, -1 * o.delta(x.high, 2), 0.0)


def a024(o: Any, x: AlphaData) -> Any:
    drift = o.delta(o.ts_sum(x.close, 100) / 100, 100) / o.delay(x.close, 100)
    return o.where(drift <= 0.05, -1 * (x.close - o.ts_min(x.close, 100)), -1 * o.delta(x.close, 3))


def a025(o: Any, x: AlphaData) -> Any:
    return o.rank((-1 * x.returns) * x.adv(20) * x.vwap * (x.high - x.close))


def a026(o: Any, x: AlphaData) -> Any:
    return -1 * o.ts_max(o.correlation(o.ts_rank(x.volume, 5), o.ts_rank(x.high, 5), 5), 3)


def a028(o: Any, x: AlphaData) -> Any:
    return o.scale(o.correlation(x.adv(20), x.low, 5) + (x.high + x.low) / 2 - x.close)


def a033(o: Any, x: AlphaData) -> Any:
    return o.rank(-1 * (1 - x.open / x.close))


def a034(o: Any, x: AlphaData) -> Any:
    return o.rank((1 - o.rank(o.stddev(x.returns, 2) / o.stddev(x.returns, 5)))
                  + (1 - o.rank(o.delta(x.close, 1))))


def a035(o: Any, x: AlphaData) -> Any:
    return (o.ts_rank(x.volume, 32) * (1 - o.ts_rank(x.close + x.high - x.low, 16))
            * (1 - o.ts_rank(x.returns, 32)))


def a038(o: Any, x: AlphaData) -> Any:
    return (-1 * o.rank(o.ts_rank(x.close, 10))) * o.rank(x.close / x.open)


def a040(o: Any, x: AlphaData) -> Any:
    return (-1 * o.rank(o.stddev(x.high, 10))) * o.correlation(x.high, x.volume, 10)


def a041(o: Any, x: AlphaData) -> Any:
    return (x.high * x.low) ** 0.5 - x.vwap


def a042(o: Any, x: AlphaData) -> Any:
    return o.rank(x.vwap - x.close) / o.rank(x.vwap + x.close)


def a043(o: Any, x: AlphaData) -> Any:
    return o.ts_rank(x.volume / x.adv(20), 20) * o.ts_rank(-1 * o.delta(x.close, 7), 8)


def a044(o: Any, x: AlphaData) -> Any:
    return -1 * o.correlation(x.high, o.rank(x.volume), 5)


def a053(o: Any, x: AlphaData) -> Any:
    return -1 * o.delta(((x.close - x.low) - (x.high - x.close)) / (x.close - x.low), 9)


def a054(o: Any, x: AlphaData) -> Any:
    return (-1 * ((x.low - x.close) * x.open ** 5)) / ((x.low - x.high) * x.close ** 5)


def a055(o: Any, x: AlphaData) -> Any:
    lo12 = o.ts_min(x.low, 12)
    stoch = (x.close - lo12) / (o.ts_max(x.high, 12) - lo12)
    return -1 * o.correlation(o.rank(stoch), o.rank(x.volume), 6)


def a060(o: Any, x: AlphaData) -> Any:
    flow = ((x.close - x.low) - (x.high - x.close)) / (x.high - x.low) * x.volume
    return -1 * (2 * o.scale(o.rank(flow)) - o.scale(o.rank(o.ts_argmax(x.close, 10))))


def a101(o: Any, x: AlphaData) -> Any:
    return (x.close - x.open) / ((x.high - x.low) + 0.001)


@dataclass(frozen=True)
class AlphaSpec:
    number: int
    formula: Formula
    lookback: int
    text: str


#: number → (formula, lookback in bars, the paper's expression)
ALPHAS: tuple[AlphaSpec, ...] = (
    AlphaSpec(1, a001, 24, "rank(Ts_ArgMax(SignedPower(((returns < 0) ? stddev(returns, 20) : close), 2.), 5)) - 0.5"),
    AlphaSpec(2, a002, 7, "-1 * correlation(rank(delta(log(volume), 2)), rank(((close - open) / open)), 6)"),
    AlphaSpec(3, a003, 9, "-1 * correlation(rank(open), rank(volume), 10)"),
    AlphaSpec(4, a004, 8, "-1 * Ts_Rank(rank(low), 9)"),
    AlphaSpec(5, a005, 9, "rank((open - (sum(vwap, 10) / 10))) * (-1 * abs(rank((close - vwap))))"),
    AlphaSpec(6, a006, 9, "-1 * correlation(open, volume, 10)"),
    AlphaSpec(7, a007, 66, "(adv20 < volume) ? ((-1 * ts_rank(abs(delta(close, 7)), 60)) * "
                           "sign(delta(close, 7))) : (-1 * 1)"),
    AlphaSpec(8, a008, 15, "-1 * rank(((sum(open, 5) * sum(returns, 5)) - delay((sum(open, 5) * "
                           "sum(returns, 5)), 10)))"),
    AlphaSpec(9, a009, 5, "(0 < ts_min(delta(close, 1), 5)) ? delta(close, 1) : ((ts_max(delta(close, 1), "
                          "5) < 0) ? delta(close, 1) : (-1 * delta(close, 1)))"),
    AlphaSpec(10, a010, 4, "rank(((0 < ts_min(delta(close, 1), 4)) ? delta(close, 1) : "
                           "((ts_max(delta(close, 1), 4) < 0) ? delta(close, 1) : (-1 * delta(close, 1)))))"),
    AlphaSpec(11, a011, 3, "(rank(ts_max((vwap - close), 3)) + rank(ts_min((vwap - close), 3))) * "
                           "rank(delta(volume, 3))"),
    AlphaSpec(12, a012, 1, "sign(delta(volume, 1)) * (-1 * delta(close, 1))"),
    AlphaSpec(13, a013, 4, "-1 * rank(covariance(rank(close), rank(volume), 5))"),
    AlphaSpec(14, a014, 9, "(-1 * rank(delta(returns, 3))) * correlation(open, volume, 10)"),
    AlphaSpec(15, a015, 4, "-1 * sum(rank(correlation(rank(high), rank(volume), 3)), 3)"),
    AlphaSpec(16, a016, 4, "-1 * rank(covariance(rank(high), rank(volume), 5))"),
    AlphaSpec(17, a017, 23, "((-1 * rank(ts_rank(close, 10))) * rank(delta(delta(close, 1), 1))) * "
                            "rank(ts_rank((volume / adv20), 5))"),
    AlphaSpec(18, a018, 9, "-1 * rank(((stddev(abs((close - open)), 5) + (close - open)) + "
                           "correlation(close, open, 10)))"),
    AlphaSpec(19, a019, 250, "(-1 * sign(((close - delay(close, 7)) + delta(close, 7)))) * "
                             "(1 + rank((1 + sum(returns, 250))))"),
    AlphaSpec(20, a020, 1, "((-1 * rank((open - delay(high, 1)))) * rank((open - delay(close, 1)))) * "
                           "rank((open - delay(low, 1)))"),
    AlphaSpec(22, a022, 19, "-1 * (delta(correlation(high, volume, 5), 5) * rank(stddev(close, 20)))"),
    AlphaSpec(23, a023, 19, "((sum(high, 20) / 20) < high) ? (-1 * delta(high, 2)) : 0"),
    AlphaSpec(24, a024, 199, "((delta((sum(close, 100) / 100), 100) / delay(close, 100)) <= 0.05) ? "
                             "(-1 * (close - ts_min(close, 100))) : (-1 * delta(close, 3))"),
    AlphaSpec(25, a025, 19, "rank(((((-1 * returns) * adv20) * vwap) * (high - close)))"),
    AlphaSpec(26, a026, 10, "-1 * ts_max(correlation(ts_rank(volume, 5), ts_rank(high, 5), 5), 3)"),
    AlphaSpec(28, a028, 23, "scale(((correlation(adv20, low, 5) + ((high + low) / 2)) - close))"),
    AlphaSpec(33, a033, 0, "rank((-1 * ((1 - (open / close))^1)))"),
    AlphaSpec(34, a034, 5, "rank(((1 - rank((stddev(returns, 2) / stddev(returns, 5)))) + "
                           "(1 - rank(delta(close, 1)))))"),
    AlphaSpec(35, a035, 32, "(Ts_Rank(volume, 32) * (1 - Ts_Rank(((close + high) - low), 16))) * "
                            "(1 - Ts_Rank(returns, 32))"),
    AlphaSpec(38, a038, 9, "(-1 * rank(Ts_Rank(close, 10))) * rank((close / open))"),
    AlphaSpec(40, a040, 9, "(-1 * rank(stddev(high, 10))) * correlation(high, volume, 10)"),
    AlphaSpec(41, a041, 0, "((high * low)^0.5) - vwap"),
    AlphaSpec(42, a042, 0, "rank((vwap - close)) / rank((vwap + close))"),
    AlphaSpec(43, a043, 38, "ts_rank((volume / adv20), 20) * ts_rank((-1 * delta(close, 7)), 8)"),
    AlphaSpec(44, a044, 4, "-1 * correlation(high, rank(volume), 5)"),
    AlphaSpec(53, a053, 9, "-1 * delta((((close - low) - (high - close)) / (close - low)), 9)"),
    AlphaSpec(54, a054, 0, "(-1 * ((low - close) * (open^5))) / ((low - high) * (close^5))"),
    AlphaSpec(55, a055, 16, "-1 * correlation(rank(((close - ts_min(low, 12)) / (ts_max(high, 12) - "
                            "ts_min(low, 12)))), rank(volume), 6)"),
    AlphaSpec(60, a060, 9, "-(2 * scale(rank(((((close - low) - (high - close)) / (high - low)) * volume)))"
                           " - scale(rank(ts_argmax(close, 10))))"),
    AlphaSpec(101, a101, 0, "(close - open) / ((high - low) + .001)"),
)


class FormulaicAlpha(PanelFactor):
    """One alpha of Kakushadze (2016); cross-sectional because most formulas rank across symbols."""

    group = "alphas"
    inputs = ALPHA_INPUTS

    def __init__(self, spec: AlphaSpec) -> None:
        self.spec = spec
        self.name = f"alpha_{spec.number:03d}"
        self.summary = f"101 Formulaic Alphas #{spec.number}: {spec.text}"
        self.__doc__ = f"Kakushadze (2016), Alpha#{spec.number}: ``{spec.text}``"

    def lookback(self, params: BaseModel) -> int:
        return self.spec.lookback

    def columns(self, params: BaseModel) -> list[str]:
        return [self.name]

    def compute_grid(self, grids: Mapping[str, np.ndarray], params: BaseModel) -> list[np.ndarray]:
        from cde_features.alpha_ops import GridOps

        o = GridOps()
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = np.asarray(self.spec.formula(o, AlphaData(o, grids)), dtype=np.float64)
        return [np.where(np.isfinite(out), out, np.nan)]

    def __reduce__(self) -> tuple[Any, ...]:
        return (alpha_factor, (self.spec.number,))


def alpha_factor(number: int) -> FormulaicAlpha:
    return FormulaicAlpha(next(s for s in ALPHAS if s.number == number))


def alpha_factors() -> list[FormulaicAlpha]:
    return [FormulaicAlpha(spec) for spec in ALPHAS]
