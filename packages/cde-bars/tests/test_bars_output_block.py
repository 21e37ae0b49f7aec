"""``update()`` returns slices of a per-stream output block, and checks a batch in one fast pass.

The block is written on by later calls (further rows) and replaced when full, so these tests hold the
promises that make that safe: a table handed out never changes afterwards, a copied or pickled state
starts without the block and goes on with the same bars, and the fast check, whose only false alarm
is a quantity of -0.0, never turns a good batch into an error nor lets a bad value through.
"""

from __future__ import annotations

import pickle

import numpy as np
import pyarrow as pa
import pytest

from cde_bars.bar_output import BLOCK_BARS
from cde_bars.catalog import builder_by_name
from cde_bars.trade_checks import BadTradeError
from cde_core.schemas import TRADES_SCHEMA

START_US = 1_704_067_200_000_000
N_TRADES = 300_000


def trades(n: int = N_TRADES, seed: int = 5) -> pa.Table:
    rng = np.random.default_rng(seed)
    ts = START_US + np.cumsum(rng.exponential(200_000, n).astype(np.int64))
    price = np.round(40_000.0 * np.exp(np.cumsum(rng.normal(0.0, 2e-5, n))), 1)
    qty = np.round(rng.exponential(0.01, n), 5) + 1e-5
    return pa.table([pa.array(ts).cast(TRADES_SCHEMA.field("ts").type), pa.array(np.arange(n) + 1),
                     pa.array(price), pa.array(qty), pa.array(price * qty), pa.array(rng.random(n) < 0.5)],
                    schema=TRADES_SCHEMA)


def snapshot(table: pa.Table) -> dict[str, np.ndarray]:
    return {name: table.column(name).to_numpy().view(np.int64).copy() for name in table.column_names}


@pytest.mark.parametrize(("name", "params"), [("tick", {"threshold": 7}), ("time", {"interval": "1s"})])
def test_bars_handed_out_never_change_while_the_block_fills_and_rolls_over(name: str, params: dict) -> None:
    stream = trades()
    builder = builder_by_name(name)
    state = builder.new_state(params)
    handed: list[tuple[pa.Table, dict[str, np.ndarray]]] = []
    for batch in stream.to_batches(max_chunksize=3_000):
        bars = builder.update(state, batch)
        handed.append((bars, snapshot(bars)))
    total = sum(bars.num_rows for bars, _ in handed)
    assert total > 3 * BLOCK_BARS  # several blocks filled and replaced: not a vacuous check
    for i, (bars, before) in enumerate(handed):
        after = snapshot(bars)
        for column, values in before.items():
            assert np.array_equal(after[column], values), f"call {i}: column {column} changed later"
    whole = builder.update(builder.new_state(params), stream)
    assert pa.concat_tables([bars for bars, _ in handed]).equals(whole)


def test_a_batch_spanning_two_blocks_comes_back_as_one_table() -> None:
    stream = trades()
    builder = builder_by_name("tick")
    state = builder.new_state({"threshold": 3})
    nearly_full = 3 * (BLOCK_BARS - 10)
    first = builder.update(state, stream.slice(0, nearly_full))  # the block nearly full
    second = builder.update(state, stream.slice(nearly_full, 3_000))  # over its end
    assert first.num_rows == BLOCK_BARS - 10 and second.num_rows == 1_000
    assert second.column("first_trade_id").num_chunks == 1
    whole = builder.update(builder.new_state({"threshold": 3}), stream.slice(0, nearly_full + 3_000))
    assert pa.concat_tables([first, second]).combine_chunks().equals(whole.combine_chunks())


@pytest.mark.parametrize("how", ["pickle", "copy"])
def test_a_copied_or_pickled_state_goes_on_with_the_same_bars(how: str) -> None:
    stream = trades()
    half = N_TRADES // 2
    builder = builder_by_name("dollar")
    state = builder.new_state({"threshold": 2.0e6})
    builder.update(state, stream.slice(0, half))
    assert state.output is not None
    twin = pickle.loads(pickle.dumps(state)) if how == "pickle" else state.copy()
    assert twin.output is None  # the block and its bars are not part of the carried state
    rest = stream.slice(half)
    ours, theirs = builder.update(state, rest), builder.update(twin, rest)
    assert ours.num_rows > 10 and ours.equals(theirs)


def test_negative_zero_quantities_pass_the_fast_check_and_are_accepted() -> None:
    stream = trades(50_000)
    qty = stream.column("qty").to_numpy().copy()
    qty[[0, 777, 49_999]] = -0.0  # -0.0 >= 0: a trade of zero size, as 0.0 is
    builder = builder_by_name("volume")
    bars = builder.update(builder.new_state({"threshold": 5.0}), stream.set_column(3, "qty", pa.array(qty)))
    qty[[0, 777, 49_999]] = 0.0
    same = builder.update(builder.new_state({"threshold": 5.0}), stream.set_column(3, "qty", pa.array(qty)))
    assert bars.num_rows > 10 and bars.equals(same)


@pytest.mark.parametrize(("column", "value"), [
    ("price", np.nan), ("price", np.inf), ("price", 0.0), ("price", -0.0), ("price", -1.0),
    ("qty", np.nan), ("qty", -np.inf), ("qty", -1e-300), ("quote_qty", np.inf), ("quote_qty", -5.0)])
def test_one_bad_value_deep_in_a_lake_sized_batch_is_found_at_its_row(column: str, value: float) -> None:
    stream = trades(1 << 17)
    values = stream.column(column).to_numpy().copy()
    values[100_003] = value
    index = TRADES_SCHEMA.get_field_index(column)
    table = stream.set_column(index, column, pa.array(values))
    builder = builder_by_name("tick")
    with pytest.raises(BadTradeError) as caught:
        builder.update(builder.new_state({"threshold": 100}), table)
    assert caught.value.row == 100_003 and column in str(caught.value)


def test_bars_of_a_table_whose_later_batch_is_refused_come_with_the_next_call() -> None:
    stream = trades(60_000)
    good, rest = stream.slice(0, 30_000), stream.slice(30_000)
    bad_price = rest.column("price").to_numpy().copy()
    bad_price[10] = np.nan
    refused = rest.set_column(2, TRADES_SCHEMA.field("price"), pa.array(bad_price))
    builder = builder_by_name("tick")
    state = builder.new_state({"threshold": 100})
    with pytest.raises(BadTradeError):
        builder.update(state, pa.Table.from_batches([*good.to_batches(), *refused.to_batches()]))
    after = builder.update(state, rest)  # the state moved past `good`: its bars come now
    reference = builder.new_state({"threshold": 100})
    expected = pa.concat_tables([builder.update(reference, good), builder.update(reference, rest)])
    assert after.num_rows == 600 and after.equals(expected.combine_chunks())
