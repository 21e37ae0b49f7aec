"""A job travels to a Dask worker as bytes and is unpickled inside the task, where a failure is an error.

Dask unpickles a task's function and arguments before it runs the task; when that fails (a
third-party plugin whose module does not import on the worker: a library missing there, a different
version) the worker drops its connection to the scheduler, comes back, fails again, and the client
finally reports "the cluster has had no worker" — blaming the cluster for a plugin, and failing the
built-in jobs of the same run with it. Shipping the job pickled (as Dask pickles it) and unpickling it
in :func:`run_payload` turns that into the failure of that job, naming the plugin whose module did not
import (:func:`cde_core.plugin_faults.import_fault`), or else the module.
"""

from __future__ import annotations

import socket
from typing import Any

from cde_core.contracts.executor import Job
from cde_core.errors import RemoteError
from cde_core.plugin_checks import describe
from cde_core.plugin_faults import import_fault
from cde_dask.worker_environment import ObjectStoreNeeds, run_on_worker


def job_payload(job: Job) -> bytes:
    """The job as bytes, pickled as Dask itself pickles a task (cloudpickle)."""
    from distributed.protocol.pickle import dumps

    return bytes(dumps(job))  # type: ignore[no-untyped-call]


def run_payload(payload: bytes, needs: ObjectStoreNeeds | None, key: str) -> Any:
    """Unpickle the job (a failure names the plugin, never the worker's death), then run it."""
    from distributed.protocol.pickle import loads

    try:
        job = loads(payload)  # type: ignore[no-untyped-call]
    except Exception as exc:
        where = f"on the Dask worker on {socket.gethostname()}"
        fault = import_fault(exc, where)
        if fault is not None:
            raise fault from None
        raise RemoteError(f"cde job '{key}' cannot be loaded {where}: {describe(exc)}",
                          hint="install the same packages (cde's and the plugins') on the workers as on "
                               "the client") from None
    return run_on_worker(job, needs)
