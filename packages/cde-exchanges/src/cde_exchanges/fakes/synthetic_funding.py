"""Random funding-rate months for tests and the offline demo, in :data:`cde_core.schemas.FUNDING_SCHEMA`.

Settlements every 8 hours from 00:00 UTC, each ``calc_time`` a few ms after the hour as in the real files
(``1780272000001``), rates around +0.01 % with 8 decimals; deterministic for a seed.
"""

from __future__ import annotations

import calendar
from datetime import date

import numpy as np
import pyarrow as pa

from cde_core.schemas import FUNDING_SCHEMA
from cde_exchanges.utc_days import day_start_us

HOUR_US = 3_600_000_000


def random_funding(year: int, month: int, *, seed: int = 0, interval_hours: int = 8) -> pa.Table:
    """One month of settlements every ``interval_hours`` hours."""
    gen = np.random.default_rng([seed, year, month])
    start = day_start_us(date(year, month, 1))
    n = calendar.monthrange(year, month)[1] * 24 // interval_hours
    calc_time = start + np.arange(n) * interval_hours * HOUR_US + gen.integers(0, 10, n) * 1_000
    rates = np.round(gen.normal(1e-4, 2e-4, n), 8)
    return pa.table({"calc_time": pa.array(calc_time).cast(FUNDING_SCHEMA.field("calc_time").type),
                     "funding_interval_hours": pa.array(np.full(n, interval_hours), pa.int64()),
                     "funding_rate": rates}).cast(FUNDING_SCHEMA)
