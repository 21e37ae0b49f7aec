"""Imbalance bars with default parameters end on their rule, not on the ``expected_ticks_max`` cap.

With the earlier defaults (E[T] from 1000 trades, a 20-bar EWMA and a floor proportional to E[T]) a
balanced market ended 19 of 20 bars at the cap and a persistent one 97 %: fixed 10,000-trade bars
under another name. Property: on synthetic taker flow, balanced or with sign persistence 0.7, at most
5 % of the bars end at the cap, whatever the seed and the measure.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from cde_bars_streams import BASE_TS
from hypothesis import given, settings
from hypothesis import strategies as st

from cde_bars.catalog import builder_by_name
from cde_bars.params import ImbalanceBarParams

N_TRADES = 300_000


def taker_flow(seed: int, persistence: float | None) -> pa.Table:
    """Trades whose taker side is a fair coin (``None``) or repeats the previous side with
    probability ``persistence``; exponential sizes, a random-walk price."""
    rng = np.random.default_rng(seed)
    if persistence is None:
        sell = rng.random(N_TRADES) < 0.5
    else:
        flips = rng.random(N_TRADES) >= persistence
        flips[0] = rng.random() < 0.5
        sell = np.logical_xor.accumulate(flips)
    price = 100 * np.exp(np.cumsum(rng.normal(0, 1e-4, N_TRADES)))
    qty = rng.exponential(1.0, N_TRADES)
    return pa.table({"ts": pa.array(BASE_TS + np.arange(N_TRADES) * 1000).cast(pa.timestamp("us", "UTC")),
                     "trade_id": np.arange(N_TRADES), "price": price, "qty": qty, "quote_qty": price * qty,
                     "is_buyer_maker": sell})


@pytest.mark.parametrize("bar", ["tick_imbalance", "volume_imbalance", "dollar_imbalance"])
@pytest.mark.parametrize("persistence", [None, 0.7], ids=["balanced", "persistent-0.7"])
@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_default_imbalance_bars_end_on_the_imbalance_rule(bar: str, persistence: float | None,
                                                          seed: int) -> None:
    builder = builder_by_name(bar)
    bars = builder.update(builder.new_state({}), taker_flow(seed, persistence)).to_pandas()
    cap = ImbalanceBarParams().expected_ticks_max
    at_cap = (bars["n_trades"] >= cap).mean()
    assert len(bars) >= 100, f"{len(bars)} bars from {N_TRADES} trades"
    assert at_cap <= 0.05, f"{at_cap:.1%} of {len(bars)} bars ended at the {cap:.0f}-trade cap"
