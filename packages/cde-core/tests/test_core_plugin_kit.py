"""The plugin-author kit catches what it promises to catch, and the typed bases make short plugins."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pydantic import BaseModel, Field

from cde_core.authoring import Factor, Strategy, factor
from cde_core.contracts.base import NoParams
from cde_core.testing import (
    ContractViolation,
    check_bar_builder,
    check_factor,
    check_strategy,
    synthetic_bars,
    synthetic_trades,
)


class WindowParams(BaseModel):
    window: int = Field(10, ge=2, description="bars")


class RollingMean(Factor[WindowParams]):
    name = "rolling_mean"
    summary = "mean close"
    inputs = ("close",)

    def lookback(self, params: WindowParams) -> int:
        return params.window - 1

    def values(self, bars: pd.DataFrame, params: WindowParams) -> pd.Series:
        return bars["close"].rolling(params.window).mean()


class Peeking(RollingMean):
    name = "peeking"

    def values(self, bars: pd.DataFrame, params: WindowParams) -> pd.Series:
        return bars["close"].shift(-5)


class ReadsUndeclared(RollingMean):
    name = "undeclared"

    def values(self, bars: pd.DataFrame, params: WindowParams) -> pd.Series:
        return bars["volume"].rolling(params.window).mean()


class Noisy(RollingMean):
    name = "noisy"

    def values(self, bars: pd.DataFrame, params: WindowParams) -> pd.Series:
        return bars["close"] * np.random.default_rng().uniform(size=len(bars))


class WrongColumns(RollingMean):
    name = "wrong_columns"

    def compute(self, bars: pd.DataFrame, params: WindowParams) -> pd.DataFrame:
        return pd.DataFrame({"something_else": bars["close"]}, index=bars.index)


class FullSampleZScore(RollingMean):
    """Normalises with the mean of the whole sample: a subtle look-ahead."""

    name = "full_sample_z"

    def values(self, bars: pd.DataFrame, params: WindowParams) -> pd.Series:
        return (bars["close"] - bars["close"].mean()) / bars["close"].std()


def test_a_correct_typed_factor_passes_and_gets_params_and_columns_from_its_generic_argument() -> None:
    assert RollingMean.Params is WindowParams
    out = check_factor(RollingMean(), {"window": 4})
    assert list(out.columns) == ["rolling_mean_4"]
    bars = synthetic_bars(400)
    np.testing.assert_allclose(out["rolling_mean_4"].to_numpy()[3:],
                               bars["close"].rolling(4).mean().to_numpy()[3:])  # hand oracle: pandas' mean


@pytest.mark.parametrize(("bad", "message"), [
    (Peeking(), "looks ahead"),
    (FullSampleZScore(), "looks ahead"),
    (ReadsUndeclared(), "volume"),
    (Noisy(), "not deterministic"),
    (WrongColumns(), "declares ['wrong_columns_10']"),
])
def test_check_factor_fails_a_factor_breaking_the_contract(bad: Any, message: str) -> None:
    with pytest.raises((ContractViolation, KeyError)) as info:
        check_factor(bad)
    assert message in str(info.value)


def test_check_factor_rejects_a_class_and_a_missing_method() -> None:
    with pytest.raises(ContractViolation, match="registered the class RollingMean"):
        check_factor(RollingMean)

    class NoCompute:
        name, group, summary, inputs, cross_sectional = "x", "g", "s", ("close",), False
        Params = NoParams

        def lookback(self, params: Any) -> int:
            return 0

        def columns(self, params: Any) -> list[str]:
            return ["x"]

    with pytest.raises(ContractViolation, match="lacks compute"):
        check_factor(NoCompute())


def test_the_factor_decorator_makes_a_complete_factor_from_one_function() -> None:
    @factor(inputs=("close",), params=WindowParams, lookback=lambda p: p.window - 1)
    def close_max(bars: pd.DataFrame, p: WindowParams) -> pd.Series:
        """highest close over the window"""
        return bars["close"].rolling(p.window).max()

    assert close_max.name == "close_max" and close_max.summary == "highest close over the window"
    out = check_factor(close_max, {"window": 3})
    closes = synthetic_bars(400)["close"].to_numpy()
    assert out["close_max_3"].iloc[10] == max(closes[8:11])  # by hand: rows 8, 9, 10


class MomentumParams(BaseModel):
    lookback: int = Field(5, ge=1)


class Momentum(Strategy[MomentumParams]):
    name = "toy_momentum"
    summary = "long positive momentum"

    def target_weights(self, panel: pd.DataFrame, params: MomentumParams) -> pd.Series:
        change = panel["close"].groupby(level="symbol").pct_change(params.lookback)
        return np.sign(change).fillna(0.0) / 6


class PeekingStrategy(Momentum):
    name = "peeking_strategy"

    def target_weights(self, panel: pd.DataFrame, params: MomentumParams) -> pd.Series:
        future = panel["close"].groupby(level="symbol").shift(-1)
        return np.sign(future - panel["close"]).fillna(0.0)


def test_check_strategy_passes_a_causal_strategy_and_fails_a_peeking_one() -> None:
    weights = check_strategy(Momentum())
    assert set(np.unique(weights)) <= {-1 / 6, 0.0, 1 / 6}
    with pytest.raises(ContractViolation, match="looks ahead"):
        check_strategy(PeekingStrategy())


class CountParams(BaseModel):
    threshold: int = Field(100, ge=1)


class TickBars:
    """A tiny correct tick-bar builder (plain class: the protocol, no base)."""

    name = "toy_ticks"
    summary = "a bar every N trades"
    Params: ClassVar[type[BaseModel]] = CountParams

    def spec_id(self, params: Any) -> str:
        return f"toy_ticks-{params.threshold}"

    def new_state(self, params: Any) -> dict[str, Any]:
        return {"n": params.threshold, "pending": None}

    def update(self, state: dict[str, Any], trades: pa.Table) -> pa.Table:
        pending = state["pending"]
        table = trades if pending is None else pa.concat_tables([pending, trades])
        whole = table.num_rows // state["n"] * state["n"]
        state["pending"] = table.slice(whole)
        return _bars(table.slice(0, whole), state["n"])

    def flush(self, state: dict[str, Any]) -> pa.Table:
        rest, state["pending"] = state["pending"], None
        return _bars(rest, max(rest.num_rows, 1)) if rest is not None else _bars(None, 1)


class PerBatchBars(TickBars):
    """Also closes the unfinished bar at the end of every batch: not chunk invariant."""

    name = "per_batch"

    def update(self, state: dict[str, Any], trades: pa.Table) -> pa.Table:
        return _bars(trades, state["n"])


def _bars(trades: pa.Table | None, size: int) -> pa.Table:
    from cde_core.schemas import BARS_SCHEMA

    if trades is None or trades.num_rows == 0:
        return BARS_SCHEMA.empty_table()
    frame = trades.to_pandas()
    groups = frame.groupby(np.arange(len(frame)) // size)
    price, qty = groups["price"], groups["qty"]
    buy = frame["qty"].where(~frame["is_buyer_maker"], 0.0).groupby(np.arange(len(frame)) // size)
    quote = frame["quote_qty"].groupby(np.arange(len(frame)) // size).sum()
    out = pd.DataFrame({
        "ts": groups["ts"].first(), "ts_close": groups["ts"].last(), "open": price.first(), "high": price.max(),
        "low": price.min(), "close": price.last(), "volume": qty.sum(), "quote_volume": quote,
        "vwap": quote / qty.sum(), "n_trades": qty.count().astype("int64"), "buy_volume": buy.sum(),
        "buy_quote_volume": buy.sum() * 0.0, "first_trade_id": groups["trade_id"].first(),
        "last_trade_id": groups["trade_id"].last(),
    })
    return pa.Table.from_pandas(out, schema=BARS_SCHEMA, preserve_index=False)


def test_check_bar_builder_passes_a_streaming_builder_and_fails_one_that_closes_per_batch() -> None:
    bars = check_bar_builder(TickBars(), {"threshold": 100}, trades=synthetic_trades(1000))
    assert bars.num_rows == 10 and bars.column("n_trades").to_pylist() == [100] * 10
    with pytest.raises(ContractViolation, match="not chunk invariant"):
        check_bar_builder(PerBatchBars(), {"threshold": 100}, trades=synthetic_trades(1000))
