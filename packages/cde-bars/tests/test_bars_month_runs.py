"""``month_runs`` splits each batch's bars into months with integer compares on the raw µs buffer;
the oracle is numpy's own month arithmetic (``datetime64[M]``) on the same timestamps."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pyarrow as pa
import pytest

from cde_bars.symbol_job import month_runs

TS = pa.timestamp("us", tz="UTC")


def numpy_months(ts: np.ndarray) -> list[tuple[str, int, int]]:
    months = ts.astype("datetime64[M]")
    edges = [0, *(np.flatnonzero(months[1:] != months[:-1]) + 1).tolist(), len(months)]
    return [(str(months[lo]), lo, hi) for lo, hi in pairwise(edges)]


@pytest.mark.parametrize("seed", range(4))
def test_month_runs_match_numpy_months_for_plain_sliced_and_chunked_columns(seed: int) -> None:
    rng = np.random.default_rng(seed)
    edges = np.array(["2023-12-01", "2024-01-01", "2024-02-01", "2024-03-01", "2024-12-01", "2025-01-01"],
                     dtype="datetime64[us]")
    for trial in range(300):
        n = int(rng.integers(1, 40))
        if trial % 3 == 0:  # right at a month's last / first microsecond
            ts = np.sort(rng.choice(edges, n) + rng.integers(-2, 2, n).astype("timedelta64[us]"))
        else:  # anywhere from 1970 to ~2033, gaps from µs to many weeks
            scale = 86_400 * 10**6 * 40 if trial % 2 else 10**9
            ts = (int(rng.integers(0, 2_000_000_000)) * 10**6 + np.cumsum(rng.integers(0, scale, n))
                  ).astype("datetime64[us]")
        expected = numpy_months(ts)
        plain = pa.array(ts, type=TS)
        sliced = pa.array(np.concatenate([np.repeat(ts[:1], 5), ts]), type=TS).slice(5)  # offset 5
        chunked = pa.chunked_array([plain.slice(0, n // 2 or n), *([plain.slice(n // 2)] if n // 2 else [])])
        for column in (plain, sliced, chunked):
            assert month_runs(pa.table({"ts": column})) == expected, (ts, column)
