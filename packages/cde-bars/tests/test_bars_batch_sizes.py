"""Every builder gives the same bars, bit for bit, whatever batch size it is fed.

The lake reader hands 2^17-trade batches and ``update()`` keeps its per-call cost small by assembling
bars in a compiled step and viewing them as Arrow columns without copies: this checks that path on a
stream long enough to cross many batch edges with realistic bar densities (and one dense spec whose
bars overflow the first output buffer inside a batch), against the whole stream in one call.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from cde_bars.catalog import builder_by_name
from cde_core.schemas import TRADES_SCHEMA

N_TRADES = (1 << 20) + (1 << 16) + 12_345  # a partial last batch at every size
START_US = 1_704_067_200_000_000
INFO = {"expected_ticks_init": 500, "expected_ticks_min": 50, "expected_ticks_max": 5000}
SPECS: list[tuple[str, dict[str, Any]]] = [
    ("time", {"interval": "1m"}), ("time", {"interval": "1h", "fill": True}),
    ("tick", {"threshold": 1000}), ("tick", {"threshold": 7}),
    ("volume", {"threshold": 25.0}), ("dollar", {"threshold": 2.0e6}),
    ("dollar", {"threshold": 2.0e6, "bars_per_day": 400.0, "window_days": 2}),
    *[(f"{measure}_{kind}", {**INFO, "side": side})
      for kind in ("imbalance", "run") for measure in ("tick", "volume", "dollar")
      for side in ("taker", "tick_rule")],
]


@pytest.fixture(scope="module")
def trades() -> pa.Table:
    """Four days of trades with bursts, quiet hours (empty time intervals) and repeated prices."""
    rng = np.random.default_rng(17)
    gaps = rng.exponential(300_000, N_TRADES).astype(np.int64)
    gaps[rng.integers(0, N_TRADES, 20)] += 3 * 3_600_000_000  # quiet spells: forward-filled hours
    ts = START_US + np.cumsum(gaps)
    price = np.round(40_000.0 * np.exp(np.cumsum(rng.normal(0.0, 2e-5, N_TRADES))), 1)
    qty = np.round(rng.exponential(0.01, N_TRADES), 5) + 1e-5
    maker = rng.random(N_TRADES) < 0.5
    return pa.table([pa.array(ts).cast(TRADES_SCHEMA.field("ts").type), pa.array(np.arange(N_TRADES) + 1),
                     pa.array(price), pa.array(qty), pa.array(price * qty), pa.array(maker)],
                    schema=TRADES_SCHEMA)


def bars_in_batches(name: str, params: dict[str, Any], trades: pa.Table, rows: int | None) -> pa.Table:
    """Bars of the stream fed as record batches of ``rows`` trades (None: the whole stream at once)."""
    builder = builder_by_name(name)
    state = builder.new_state(params)
    batches = [trades] if rows is None else trades.to_batches(max_chunksize=rows)
    parts = [builder.update(state, batch) for batch in batches]
    parts.append(builder.flush(state))
    return pa.concat_tables(parts).combine_chunks()


@pytest.mark.parametrize(("name", "params"), SPECS,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(SPECS)])
def test_batch_sizes_give_identical_bars(name: str, params: dict[str, Any], trades: pa.Table) -> None:
    whole = bars_in_batches(name, params, trades.combine_chunks(), None)
    assert whole.num_rows > 20  # the spec makes bars at this density (not a vacuous comparison)
    assert int(np.sum(whole.column("n_trades").to_numpy())) == N_TRADES
    for exponent in (10, 17, 20):
        chunked = bars_in_batches(name, params, trades, 1 << exponent)
        assert chunked.schema.equals(whole.schema)
        for column in whole.column_names:  # bit-identical, NaN-safe, naming the first difference
            a = whole.column(column).to_numpy()
            b = chunked.column(column).to_numpy()
            assert a.shape == b.shape, f"2^{exponent}: {len(b)} bars, whole stream {len(a)}"
            same = a.view(np.int64) == b.view(np.int64)
            assert same.all(), f"2^{exponent}: column {column} differs first at bar {np.argmin(same)}"
