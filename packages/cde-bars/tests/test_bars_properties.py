"""Invariants of every builder: chunking invariance, conservation, OHLC, order, no overlap."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from cde_bars_streams import trade_streams, trades_table
from hypothesis import given, settings
from hypothesis import strategies as st

from cde_bars.catalog import builder_by_name
from cde_core.errors import DataError

SPECS: list[tuple[str, dict[str, Any]]] = [
    ("time", {"interval": "1m"}), ("time", {"interval": "1h", "fill": True}),
    ("tick", {"threshold": 3}), ("volume", {"threshold": 2.0}), ("dollar", {"threshold": 250.0}),
    ("dollar", {"threshold": 300.0, "bars_per_day": 2.0, "window_days": 2}),
    ("tick_imbalance", {"expected_ticks_init": 4, "expected_ticks_min": 2, "expected_ticks_max": 12}),
    ("volume_imbalance", {"expected_ticks_init": 4, "expected_ticks_min": 1, "expected_ticks_max": 9,
                          "side": "tick_rule"}),
    ("dollar_imbalance", {"expected_ticks_init": 6, "expected_ticks_min": 2, "expected_ticks_max": 20}),
    ("tick_run", {"expected_ticks_init": 4, "expected_ticks_min": 2, "expected_ticks_max": 12}),
    ("volume_run", {"expected_ticks_init": 4, "expected_ticks_min": 2, "expected_ticks_max": 12,
                    "side": "tick_rule"}),
    ("dollar_run", {"expected_ticks_init": 5, "expected_ticks_min": 1, "expected_ticks_max": 10}),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(SPECS)]
EXAMPLES = settings(max_examples=25, deadline=None)


def build(name: str, params: dict[str, Any], batches: list[pa.Table]) -> pa.Table:
    builder = builder_by_name(name)
    state = builder.new_state(params)
    parts = [builder.update(state, batch) for batch in batches]
    parts.append(builder.flush(state))
    return pa.concat_tables(parts)


def split(table: pa.Table, cuts: list[int]) -> list[pa.Table]:
    edges = [0, *sorted(c % (table.num_rows + 1) for c in cuts), table.num_rows]
    return [table.slice(a, b - a) for a, b in itertools.pairwise(edges)]


@pytest.mark.parametrize(("name", "params"), SPECS, ids=IDS)
@EXAMPLES
@given(trades=trade_streams(max_size=100), cuts=st.lists(st.integers(0, 1000), max_size=8))
def test_any_chunking_gives_the_same_bars(name: str, params: dict[str, Any], trades: list,
                                          cuts: list[int]) -> None:
    table = trades_table(trades)
    whole = build(name, params, [table])
    assert build(name, params, split(table, cuts)).equals(whole)


@pytest.mark.parametrize(("name", "params"), SPECS, ids=IDS)
@EXAMPLES
@given(trades=trade_streams(max_size=100))
def test_bars_conserve_trades_and_follow_prices(name: str, params: dict[str, Any], trades: list) -> None:
    table = trades_table(trades)
    bars = build(name, params, [table]).to_pandas()
    ts = table["ts"].cast(pa.int64()).to_numpy()
    ids = table["trade_id"].to_numpy()
    price = table["price"].to_numpy()
    qty = table["qty"].to_numpy()
    quote = table["quote_qty"].to_numpy()
    buy = ~table["is_buyer_maker"].to_numpy(zero_copy_only=False)
    assert bars["n_trades"].sum() == len(trades)
    assert np.isclose(bars["volume"].sum(), qty.sum(), rtol=1e-12)
    assert np.isclose(bars["quote_volume"].sum(), quote.sum(), rtol=1e-12)
    assert np.isclose(bars["buy_volume"].sum(), qty[buy].sum(), rtol=1e-12)
    assert np.isclose(bars["buy_quote_volume"].sum(), quote[buy].sum(), rtol=1e-12)
    real = bars[bars["n_trades"] > 0]
    # consecutive bars partition the trade sequence: each starts right after the previous ends
    first = np.searchsorted(ids, real["first_trade_id"].to_numpy())
    last = np.searchsorted(ids, real["last_trade_id"].to_numpy())
    assert first[0] == 0 and last[-1] == len(trades) - 1
    assert (first[1:] == last[:-1] + 1).all()
    assert (last - first + 1 == real["n_trades"].to_numpy()).all()
    for row, a, b in zip(real.itertuples(), first, last, strict=True):
        assert row.open == price[a] and row.close == price[b]
        assert row.high == price[a:b + 1].max() and row.low == price[a:b + 1].min()
        assert row.ts.value // 1000 == ts[a] and row.ts_close.value // 1000 == ts[b]
        tolerance = 1e-9 * row.high
        assert row.low - tolerance <= row.vwap <= row.high + tolerance
    stamps = bars["ts"].to_numpy()
    closes = bars["ts_close"].to_numpy()
    assert (stamps <= closes).all() and (closes[:-1] <= stamps[1:]).all()



@pytest.mark.parametrize(("name", "params"), SPECS, ids=IDS)
@EXAMPLES
@given(trades=trade_streams(max_size=100))
def test_a_full_output_resumes_exactly(name: str, params: dict[str, Any], trades: list) -> None:
    """A kernel stops when its preallocated output is full and is called again from where it stopped
    (mid-day for dynamic thresholds, between empty intervals for filled time bars): with room for one
    bar in the first call (then 4, 16, ...) the bars are those of one uninterrupted call."""
    import cde_bars.builders.base as base

    table = trades_table(trades)
    whole = build(name, params, [table])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(base, "FIRST_CAPACITY", 1)
        assert build(name, params, [table]).equals(whole)


def test_out_of_order_trades_are_rejected_naming_the_row() -> None:
    from cde_bars_oracle import Trade
    from cde_bars_streams import BASE_TS

    trades = [Trade(BASE_TS + 10, 1, 1.0, 1.0, 1.0, False), Trade(BASE_TS + 5, 2, 1.0, 1.0, 1.0, False)]
    builder = builder_by_name("tick")
    with pytest.raises(DataError, match="row 1"):
        builder.update(builder.new_state({"threshold": 5}), trades_table(trades))
    state = builder.new_state({"threshold": 5})
    builder.update(state, trades_table(trades[:1]))
    with pytest.raises(DataError, match="row 0"):  # across batches too
        builder.update(state, trades_table(trades[1:]))


@pytest.mark.parametrize(("name", "params"), SPECS, ids=IDS)
@settings(max_examples=25, deadline=None)
@given(trades=trade_streams(min_size=2, max_size=100), cut=st.integers(1, 99))
def test_no_look_ahead_closed_bars_of_a_prefix_are_final(name: str, params: dict[str, Any], trades: list,
                                                         cut: int) -> None:
    """Bars closed by a prefix of the stream never change when later trades arrive (dynamic
    thresholds and EWMA expectations use the past only)."""
    table = trades_table(trades)
    builder = builder_by_name(name)
    state = builder.new_state(params)
    early = builder.update(state, table.slice(0, cut % table.num_rows or 1))
    full_state = builder.new_state(params)
    full = builder.update(full_state, table)
    assert full.slice(0, early.num_rows).equals(early)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), run=st.booleans(), floor=st.sampled_from([0.0, 0.5, 1.0]))
def test_information_bars_neither_collapse_nor_stall_on_balanced_flow(seed: int, run: bool,
                                                                      floor: float) -> None:
    """Random 50/50 order flow is the case where unbounded EWMA expectations blow up: bars must
    stay within [1, expected_ticks_max] trades and keep closing."""
    rng = np.random.default_rng(seed)
    n = 20_000
    from cde_bars_streams import BASE_TS

    ts = pa.array(BASE_TS + np.arange(n, dtype=np.int64) * 1000).cast(pa.timestamp("us", "UTC"))
    table = pa.table({"ts": ts,
                      "trade_id": np.arange(n), "price": 100 + np.cumsum(rng.normal(0, 0.01, n)),
                      "qty": rng.exponential(1.0, n), "quote_qty": rng.exponential(100.0, n),
                      "is_buyer_maker": rng.random(n) < 0.5})
    params: dict[str, Any] = {"expected_ticks_init": 50, "expected_ticks_min": 10, "expected_ticks_max": 400}
    if not run:
        params["imbalance_floor"] = floor
    builder = builder_by_name("volume_run" if run else "volume_imbalance")
    bars = builder.update(builder.new_state(params), table).to_pandas()
    assert len(bars) >= n // 400
    assert bars["n_trades"].max() <= 400
    if run or floor > 0:
        assert bars["n_trades"].median() > 1


@pytest.mark.parametrize("name", ["volume_imbalance", "dollar_imbalance", "volume_run", "dollar_run"])
@pytest.mark.parametrize("side", ["taker", "tick_rule"])
@pytest.mark.parametrize("zeros", [7, 40])
def test_trades_of_zero_size_never_close_an_information_bar_on_their_own(name: str, side: str,
                                                                         zeros: int) -> None:
    """Zero-size trades (allowed) gave a threshold of 0 that θ = 0 'reached': each was a one-trade bar,
    below expected_ticks_min. A bar now closes on a positive θ, or at the expected_ticks_max cap;
    the oracle agrees bar for bar."""
    from cde_bars_oracle import Trade, information_bars

    params = {"expected_ticks_init": 6, "expected_ticks_min": 4, "expected_ticks_max": 12, "side": side}
    ts0 = 1_704_067_200_000_000
    trades = [Trade(ts0 + i, i, 100.0 + (i % 3), 0.0 if i < zeros else 1.0 + (i % 2),
                    0.0 if i < zeros else (100.0 + (i % 3)) * (1.0 + (i % 2)), i % 2 == 0)
              for i in range(120)]
    bars = build(name, params, [trades_table(trades)]).to_pylist()
    assert all(b["volume"] > 0 or b["n_trades"] == 12 for b in bars)
    measure = "volume" if name.startswith("volume") else "dollar"
    imbalance = "imbalance" in name
    closed, rest = information_bars(trades, measure, not imbalance, imbalance_floor=0.7 if imbalance else 0.1,
                                    ewma_bars=100 if imbalance else 20, **params)
    want = closed + ([rest] if rest else [])
    assert [(b["first_trade_id"], b["last_trade_id"]) for b in bars] == \
        [(b["first_trade_id"], b["last_trade_id"]) for b in want]
