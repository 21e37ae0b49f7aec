"""The ``dask`` executor: the local executor's contract, run on a ``dask.distributed`` cluster."""

from __future__ import annotations

import functools
import threading
import uuid
import weakref
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from cde_core.contracts.executor import Job
from cde_core.errors import RemoteError
from cde_core.progress import CancelToken, ProgressCallback
from cde_dask.cancel_watcher import CancelWatcher
from cde_dask.cluster_connection import ClusterConnection, connect
from cde_dask.job_payload import job_payload, run_payload
from cde_dask.params import DaskExecutorParams
from cde_dask.worker_environment import needs_of
from cde_dask.worker_watchdog import WorkerWatchdog

if TYPE_CHECKING:
    from distributed import Client, Future


class DaskExecutor:
    """Runs jobs on a Dask cluster; results in job order, exactly as the ``local`` executor returns them.

    The client (and a LocalCluster when no scheduler is configured) is created on the first ``run``
    and kept until :meth:`close`, so several runs of one step share one cluster. A caller that drops
    the executor without closing it does not leak worker processes: they are released when the
    executor is garbage-collected (or at interpreter exit). At most
    ``max_in_flight`` jobs are submitted at a time: the job list may be huge (every symbol-month of
    years of ticks) and the scheduler and the client should hold only a window of it.
    """

    name = "dask"

    def __init__(self, params: DaskExecutorParams | None = None) -> None:
        self.params = params or DaskExecutorParams()
        self._connection: ClusterConnection | None = None
        self._release: weakref.finalize[Any, Any] | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Client:
        """The connected ``distributed.Client`` (connecting, or starting the LocalCluster, if needed)."""
        return self._connect().client

    def _connect(self) -> ClusterConnection:
        with self._lock:
            if self._connection is None:
                self._connection = connect(self.params)
                self._release = weakref.finalize(self, self._connection.close)
            return self._connection

    def run(self, jobs: Sequence[Job], *, progress: ProgressCallback | None = None,
            cancel: CancelToken | None = None) -> list[Any]:
        results: list[Any] = [None] * len(jobs)
        if not jobs:
            return results
        if cancel is not None:
            cancel.raise_if_cancelled("executor")
        connection = self._connect()
        self._wait_for_a_worker(connection)
        limit = self.params.max_in_flight or max(2 * connection.total_threads, 1)
        window = _SubmissionWindow(connection.client, jobs, limit, self.params.retries, cancel)
        watchdog = WorkerWatchdog(connection.client, window.cancel_in_flight, self.params.no_workers_timeout_s,
                                  self.params.cancel_poll_s)
        done = 0
        try:
            with CancelWatcher(cancel, window.cancel_in_flight, self.params.cancel_poll_s), watchdog:
                window.fill()
                for future in window.completed:
                    index = window.collect(future)
                    if cancel is not None:
                        cancel.raise_if_cancelled("executor")
                    if watchdog.tripped:
                        raise self._no_workers(connection)
                    results[index] = _result_of(future, jobs[index])
                    done += 1
                    if progress is not None:
                        progress(done / len(jobs), jobs[index].key)
                    window.fill()
        finally:
            window.cancel_in_flight()
        return results

    def _wait_for_a_worker(self, connection: ClusterConnection) -> None:
        try:
            connection.client.wait_for_workers(1, timeout=self.params.no_workers_timeout_s)
        except TimeoutError:
            raise self._no_workers(connection) from None

    def _no_workers(self, connection: ClusterConnection) -> RemoteError:
        return RemoteError(f"the Dask cluster has had no worker for {self.params.no_workers_timeout_s:g} s",
                           where=str(connection.client.scheduler.address),
                           hint="start workers (`dask worker <scheduler>`) or check why they died; "
                                "finished partitions are kept, so re-running resumes")

    def close(self) -> None:
        """Disconnect, and stop the LocalCluster if this executor started it."""
        with self._lock:
            release, self._release, self._connection = self._release, None, None
        if release is not None:
            release()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class _SubmissionWindow:
    """The jobs of one ``run`` that are submitted and not yet collected, refilled up to ``limit``.

    Submission and cancellation share a lock and submission re-checks the token under it, so a cancel
    never misses a future submitted at the same moment.
    """

    def __init__(self, client: Client, jobs: Sequence[Job], limit: int, retries: int,
                 cancel: CancelToken | None) -> None:
        from distributed import as_completed

        self.client = client
        self.jobs = jobs
        self.limit = limit
        self.retries = retries
        self.cancel = cancel
        self.completed = as_completed(loop=client.loop)
        self._in_flight: dict[Future[Any], int] = {}
        self._next = 0
        self._run_id = uuid.uuid4().hex[:12]
        self._lock = threading.Lock()

    def fill(self) -> None:
        with self._lock:
            while self._next < len(self.jobs) and len(self._in_flight) < self.limit:
                if self.cancel is not None and self.cancel.cancelled:
                    return
                job = self.jobs[self._next]
                # the job (as bytes, see job_payload) and what its worker must offer to reach an
                # object-store lake, bound into one callable: Dask would otherwise look into the
                # arguments for tasks and futures
                task = functools.partial(run_payload, job_payload(job), needs_of(job), job.key)
                # a unique key per run and job: Dask would otherwise reuse a result of the same key
                future = self.client.submit(task, key=f"cde-{job.key}-{self._run_id}-{self._next}", pure=False,
                                            retries=self.retries)
                self._in_flight[future] = self._next
                self.completed.add(future)
                self._next += 1

    def collect(self, future: Future[Any]) -> int:
        with self._lock:
            return self._in_flight.pop(future)

    def cancel_in_flight(self) -> None:
        with self._lock:
            futures = list(self._in_flight)
        if futures:
            self.client.cancel(futures)


def _result_of(future: Future[Any], job: Job) -> Any:
    """The job's return value; a job's own exception is re-raised as is, noting which job failed."""
    try:
        return future.result()
    except BaseException as exc:
        exc.add_note(f"raised by cde job '{job.key}' on the Dask cluster")
        raise
