"""A cluster without workers makes a run fail with a clear error instead of waiting forever."""

from __future__ import annotations

import threading
import time

import pytest

from cde_core.contracts.executor import Job
from cde_core.errors import RemoteError
from cde_dask import DaskExecutor, DaskExecutorParams
from cde_dask.cluster_connection import LOOPBACK_CLUSTER_OPTIONS


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_a_cluster_that_never_had_a_worker_fails_the_run() -> None:
    from distributed import LocalCluster

    with LocalCluster(n_workers=0, processes=True, **LOOPBACK_CLUSTER_OPTIONS) as cluster:
        executor = DaskExecutor(DaskExecutorParams(scheduler=cluster.scheduler_address, no_workers_timeout_s=1))
        try:
            with pytest.raises(RemoteError, match="no worker for 1 s"):
                executor.run([Job("a", nap, (0.0,))])
        finally:
            executor.close()


def test_losing_every_worker_mid_run_fails_the_run() -> None:
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, **LOOPBACK_CLUSTER_OPTIONS) as cluster:
        executor = DaskExecutor(DaskExecutorParams(scheduler=cluster.scheduler_address, no_workers_timeout_s=2))
        try:
            assert executor.run([Job("warm", nap, (0.0,))]) == [0.0]
            threading.Timer(1.0, lambda: cluster.scale(0)).start()
            with pytest.raises(RemoteError, match="no worker"):
                executor.run([Job(f"j{i}", nap, (0.5,)) for i in range(40)])
        finally:
            executor.close()
