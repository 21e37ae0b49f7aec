"""One LocalCluster (2 worker processes, loopback, no dashboard) shared by every dask test.

Worker processes are spawned, so they cannot import test modules (pytest imports them in importlib
mode, outside sys.path); an autouse fixture asks cloudpickle to ship each test module's functions by
value instead, as it would for functions defined in a notebook.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import cloudpickle
import pytest

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
