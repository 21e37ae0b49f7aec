"""A client to an existing scheduler, or to a LocalCluster that this process starts and owns."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cde_core.errors import ConfigError, RemoteError
from cde_core.suggest import did_you_mean
from cde_dask.params import DaskExecutorParams

if TYPE_CHECKING:
    from distributed import Client, LocalCluster


#: a LocalCluster that opens no port beyond loopback and serves no dashboard. Without a dashboard the
#: scheduler still runs a small HTTP server (health, metrics) on port 8787 by default, which clashes with
#: a second cluster or a user's own; a free loopback port avoids that.
LOOPBACK_CLUSTER_OPTIONS: dict[str, Any] = {
    "host": "127.0.0.1",
    "dashboard_address": None,
    "scheduler_kwargs": {"dashboard_address": "127.0.0.1:0"},
    "silence_logs": logging.ERROR,
}


@dataclass
class ClusterConnection:
    """The client jobs are submitted through; ``cluster`` is set only if we started it (and must stop it)."""

    client: Client
    cluster: LocalCluster | None = None

    @property
    def total_threads(self) -> int:
        return sum(self.client.nthreads().values())

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def connect(params: DaskExecutorParams) -> ClusterConnection:
    """Connect to ``params.scheduler``, or start a loopback LocalCluster of worker processes.

    Workers are processes because most job code is Python/pandas that holds the GIL; loopback and no
    dashboard because a local run must open no port reachable from outside and need no network.
    """
    from distributed import Client, LocalCluster

    if params.scheduler:
        _check_address(params.scheduler)
        try:
            client = Client(params.scheduler, timeout=params.connect_timeout_s, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise RemoteError(f"cannot reach the Dask scheduler: {exc}", where=params.scheduler,
                              hint="check CDE_DASK_SCHEDULER (tcp://host:port) and that the scheduler "
                                   "is running") from exc
        return ClusterConnection(client)
    cluster = LocalCluster(n_workers=params.max_workers or os.cpu_count() or 1,
                           threads_per_worker=params.threads_per_worker, processes=True,
                           **LOOPBACK_CLUSTER_OPTIONS)
    try:
        client = Client(cluster, timeout=params.connect_timeout_s, set_as_default=False)
    except BaseException:
        cluster.close()
        raise
    return ClusterConnection(client, cluster)


#: where a user sets the scheduler address, for error lines
SCHEDULER_SETTING = "executor.dask_scheduler, CDE_DASK_SCHEDULER"


def _check_address(address: str) -> None:
    """Refuse a malformed scheduler address with one line naming it: ``Client`` raises a bare
    ``ValueError`` (an "internal error" on screen) for an unknown scheme (``dsk://``, a pasted dashboard
    ``http://`` URL), a missing or non-numeric port."""
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import backends

    scheme, location = parse_address(address)
    if scheme not in backends:
        raise ConfigError(f"unknown scheme '{scheme}' in the Dask scheduler address '{address}'",
                          where=SCHEDULER_SETTING,
                          hint=f"{did_you_mean(scheme, backends, what='schemes')} — write tcp://host:port")
    if scheme == "inproc":
        return
    try:
        host, port = parse_host_port(location)
    except ValueError as exc:
        raise ConfigError(f"the Dask scheduler address '{address}' is malformed: {exc}", where=SCHEDULER_SETTING,
                          hint="write tcp://host:port (the scheduler's port, 8786 by default)") from None
    if not host or not 0 < port < 65536:
        raise ConfigError(f"the Dask scheduler address '{address}' has no host or an invalid port",
                          where=SCHEDULER_SETTING, hint="write tcp://host:port (the scheduler's port, 8786 by default)")
