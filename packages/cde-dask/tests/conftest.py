"""One LocalCluster (2 worker processes, loopback, no dashboard) shared by every dask test, and the
synthetic trades the stage tests aggregate.

Worker processes are spawned, so they cannot import test modules (pytest imports them in importlib
mode, outside sys.path); an autouse fixture asks cloudpickle to ship each test module's functions by
value instead, as it would for functions defined in a notebook.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import cloudpickle
import numpy as np
import pyarrow as pa
import pytest

from cde_core.lake import Lake, Provenance
from cde_core.schemas import TRADES_SCHEMA
from cde_dask import DaskExecutor, DaskExecutorParams
from cde_dask.cluster_connection import LOOPBACK_CLUSTER_OPTIONS


@pytest.fixture(scope="session", autouse=True)
def _workers_can_import_test_modules(pytestconfig: pytest.Config) -> Iterator[None]:
    """pytest (importlib mode) names test modules after their path from the rootdir
    (``packages.cde-dask.tests.…``), and Dask pickles a job function by reference when plain pickle
    can. A spawned worker starts with this process's ``sys.path``: ``python -m pytest`` has the rootdir
    there (the working directory), the ``pytest`` script does not — so put it there for the session."""
    root = str(pytestconfig.rootpath)
    added = root not in sys.path
    if added:
        sys.path.insert(0, root)
    try:
        yield
    finally:
        if added:
            sys.path.remove(root)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Any]:
    from distributed import LocalCluster

    local = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, **LOOPBACK_CLUSTER_OPTIONS)
    try:
        yield local
    finally:
        local.close()


@pytest.fixture(autouse=True)
def _ship_test_functions_by_value(request: pytest.FixtureRequest) -> None:
    cloudpickle.register_pickle_by_value(request.module)


@pytest.fixture
def dask_executor(cluster: Any) -> Iterator[DaskExecutor]:
    """A dask executor connected to the shared cluster by its scheduler address (as a user would)."""
    executor = DaskExecutor(DaskExecutorParams(scheduler=cluster.scheduler_address))
    try:
        yield executor
    finally:
        executor.close()


@dataclass(frozen=True)
class SyntheticTrades:
    """Trades of a few symbols over days that cross a month boundary, the same on every call (seeded
    from symbol and day), so two lakes written from them hold identical inputs."""

    symbols: list[str] = field(default_factory=lambda: ["AAAUSDT", "BBBUSDT", "CCCUSDT"])
    days: list[date] = field(default_factory=lambda: [date(2024, 1, 30) + timedelta(days=d) for d in range(4)])
    rows_per_day: int = 20_000

    def table(self, symbol: str, day: date) -> pa.Table:
        rows = self.rows_per_day
        rng = np.random.default_rng(zlib.crc32(f"{symbol}/{day}".encode()))
        start = np.datetime64(day.isoformat(), "us").astype("int64")
        ts = start + np.sort(rng.integers(0, 86_400_000_000, rows))
        price = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 5e-4, rows)))
        qty = rng.exponential(0.5, rows)
        first_id = (day - self.days[0]).days * rows + 1
        return pa.Table.from_arrays(
            [pa.array(ts).cast(TRADES_SCHEMA.field("ts").type), pa.array(np.arange(first_id, first_id + rows)),
             pa.array(price), pa.array(qty), pa.array(price * qty), pa.array(rng.random(rows) < 0.5)],
            schema=TRADES_SCHEMA)

    def write(self, lake: Lake) -> Lake:
        for symbol in self.symbols:
            for day in self.days:
                lake.write_partition(lake.trades_dir("binance", "spot", symbol, day), self.table(symbol, day),
                                     Provenance(source="synthetic", rows=self.rows_per_day))
        return lake


@pytest.fixture(scope="session")
def synthetic_trades() -> SyntheticTrades:
    return SyntheticTrades()
