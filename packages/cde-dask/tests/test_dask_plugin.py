"""The ``dask`` executor is chosen by configuration through the plugin registry, like ``local``."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from typing import Any

import psutil
import pytest

from cde_core.config import ExecutorConfig, load_config
from cde_core.contracts.executor import Executor, Job
from cde_core.errors import RemoteError
from cde_core.executors import create_executor
from cde_dask import DaskExecutor, DaskExecutorParams


def add(a: int, b: int) -> int:
    return a + b


def test_environment_aliases_select_dask_and_its_scheduler(cluster: Any) -> None:
    config = load_config(environ={"CDE_EXECUTOR": "dask", "CDE_DASK_SCHEDULER": cluster.scheduler_address},
                         use_file=False).config
    executor = create_executor(config.executor)
    try:
        assert isinstance(executor, DaskExecutor) and isinstance(executor, Executor)
        assert executor.params.scheduler == cluster.scheduler_address
        assert executor.run([Job("a", add, (1, 2)), Job("b", add, (3, 4))]) == [3, 7]
        assert executor.client.scheduler.address == cluster.scheduler_address
    finally:
        executor.close()
    # closing a client of an external cluster leaves the cluster running for everyone else
    with DaskExecutor(DaskExecutorParams(scheduler=cluster.scheduler_address)) as again:
        assert again.run([Job("c", add, (5, 6))]) == [11]


def test_no_scheduler_starts_a_loopback_local_cluster_that_close_stops() -> None:
    executor = create_executor(ExecutorConfig(name="dask", dask_scheduler=None, max_workers=1))
    assert isinstance(executor, DaskExecutor)
    try:
        assert executor.run([Job(f"j{i}", add, (i, i)) for i in range(5)]) == [0, 2, 4, 6, 8]
        workers = executor.client.scheduler_info()["workers"]
        assert len(workers) == 1
        assert all(address.startswith("tcp://127.0.0.1:") for address in workers)
        assert executor.client.scheduler.address.startswith("tcp://127.0.0.1:")
        cluster = executor._connection.cluster if executor._connection else None
        assert cluster is not None
        worker_pids = set(executor.client.run(os.getpid).values())
        assert os.getpid() not in worker_pids  # workers are processes, not threads of this one
        listening = [conn.laddr.ip for pid in (os.getpid(), *worker_pids)
                     for conn in psutil.Process(pid).net_connections("tcp") if conn.status == psutil.CONN_LISTEN]
        assert listening and set(listening) == {"127.0.0.1"}
    finally:
        executor.close()
    assert cluster.status.name == "closed"


def test_an_executor_dropped_without_close_releases_its_client(cluster: Any) -> None:
    executor = DaskExecutor(DaskExecutorParams(scheduler=cluster.scheduler_address))
    assert executor.run([Job("a", add, (1, 1))]) == [2]
    client = executor.client
    del executor
    gc.collect()
    assert client.status == "closed"


def test_an_unreachable_scheduler_is_a_clear_remote_error() -> None:
    executor = DaskExecutor(DaskExecutorParams(scheduler="tcp://127.0.0.1:9", connect_timeout_s=1))
    with pytest.raises(RemoteError, match="Dask scheduler") as raised:
        executor.run([Job("j", add, (1, 1))])
    assert raised.value.where == "tcp://127.0.0.1:9"


def test_loading_the_plugin_imports_no_dask() -> None:
    code = ("import sys\n"
            "from cde_core.plugins import get_plugins\n"
            "assert get_plugins().executors.get('dask').name == 'dask'\n"
            "from cde_core.executors import create_executor\n"
            "from cde_core.config import ExecutorConfig\n"
            "create_executor(ExecutorConfig(name='dask'))\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n")
    env = {**os.environ, "CDE_LOAD_PLUGINS": "core,dask"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
