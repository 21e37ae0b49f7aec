"""``check_bar_builder``: prove a builder keeps the :class:`cde_core.contracts.bars.BarBuilder` contract."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import BaseModel

from cde_core.contracts.bars import BarBuilder
from cde_core.errors import SchemaError
from cde_core.schemas import BARS_SCHEMA, validate_table
from cde_core.testing.checks_common import ContractViolation, check_protocol
from cde_core.testing.synthetic import synthetic_trades

SPEC_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+\-]*$")


def build_bars(builder: Any, params: BaseModel, batches: list[pa.Table]) -> pa.Table:
    """Stream ``batches`` through a fresh state, then flush: every bar the trades make."""
    state = builder.new_state(params)
    parts = [builder.update(state, batch) for batch in batches] + [builder.flush(state)]
    parts = [pa.table(p) if isinstance(p, pa.RecordBatch) else p for p in parts if p is not None]
    non_empty = [p for p in parts if p.num_rows]
    if not non_empty:
        return parts[0].slice(0, 0) if parts else pa.table({})
    return pa.concat_tables([p.select(non_empty[0].column_names) for p in non_empty])


def check_bar_builder(builder: Any, params: BaseModel | Mapping[str, Any] | None = None, *,
                      trades: pa.Table | None = None, splits: int = 4, seed: int = 0) -> pa.Table:
    """Raise :class:`ContractViolation` unless ``builder`` satisfies its protocol, gives the same bars
    for any split of the trades into batches (``splits`` random splits, single-trade batches
    included), outputs :data:`BARS_SCHEMA` (extra columns after it), puts every trade in exactly one
    bar, and has a stable, filesystem-safe ``spec_id``. Returns the bars of ``trades`` (default:
    5000 synthetic trades)."""
    check_protocol("bar_builders", BarBuilder, builder)
    label = f"bar builder '{builder.name}'"
    p = builder.Params.model_validate(params.model_dump() if isinstance(params, BaseModel) else dict(params or {}))
    spec = builder.spec_id(p)
    if not isinstance(spec, str) or not SPEC_ID.match(spec) or builder.spec_id(p) != spec:
        raise ContractViolation(f"{label}: spec_id(params) must be a stable filesystem-safe string, got {spec!r}")
    trades = synthetic_trades(seed=seed) if trades is None else trades
    full = build_bars(builder, p, [trades])
    try:
        validate_table(full, BARS_SCHEMA, where=label, exact=False)
    except SchemaError as exc:
        raise ContractViolation(f"{label} output breaks the bars schema: {exc}") from None
    if full.num_rows < 2:
        raise ContractViolation(f"{label} made {full.num_rows} bar(s) from {trades.num_rows} trades; pass "
                                "params (or trades) that make several bars, so chunking can be checked")
    _check_accounting(full, trades, label)
    rng = np.random.default_rng(seed)
    for k in range(splits):
        cuts = np.sort(rng.choice(np.arange(1, trades.num_rows), size=min(20 + 10 * k, trades.num_rows - 1),
                                  replace=False))
        cuts = np.unique(np.concatenate([cuts, [1, 2]]))  # single-trade batches at the start too
        bounds = np.concatenate([[0], cuts, [trades.num_rows]])
        batches = [trades.slice(int(a), int(b - a)) for a, b in itertools.pairwise(bounds)]
        chunked = build_bars(builder, p, batches)
        if not chunked.equals(full):
            raise ContractViolation(f"{label} is not chunk invariant: {len(batches)} batches give "
                                    f"{chunked.num_rows} bars, one batch gives {full.num_rows}"
                                    f"{_first_difference(full, chunked)}")
    return full


def _check_accounting(bars: pa.Table, trades: pa.Table, label: str) -> None:
    data = {name: bars.column(name).to_numpy() for name in ("open", "high", "low", "close", "volume",
                                                            "n_trades", "first_trade_id", "last_trade_id")}
    if int(data["n_trades"].sum()) != trades.num_rows:
        raise ContractViolation(f"{label}: its bars count {int(data['n_trades'].sum())} trades, the input has "
                                f"{trades.num_rows} (every trade belongs to exactly one bar)")
    qty = float(np.sum(trades.column("qty").to_numpy()))
    if not np.isclose(float(data["volume"].sum()), qty, rtol=1e-9):
        raise ContractViolation(f"{label}: its bars' volume sums to {data['volume'].sum()}, the trades' to {qty}")
    if np.any(data["first_trade_id"][1:] != data["last_trade_id"][:-1] + 1):
        raise ContractViolation(f"{label}: trade ids of consecutive bars are not contiguous")
    low, high = data["low"], data["high"]
    if np.any(low > np.minimum(data["open"], data["close"])) or np.any(high < np.maximum(data["open"], data["close"])):
        raise ContractViolation(f"{label}: a bar has low > min(open, close) or high < max(open, close)")


def _first_difference(expected: pa.Table, actual: pa.Table) -> str:
    for name in expected.column_names:
        if name not in actual.column_names:
            return f"; column {name} is missing"
        left, right = expected.column(name).to_pylist(), actual.column(name).to_pylist()
        for row, (a, b) in enumerate(zip(left, right, strict=False)):
            if a != b:
                return f"; first difference in {name} at bar {row}: {a!r} vs {b!r}"
    return ""
