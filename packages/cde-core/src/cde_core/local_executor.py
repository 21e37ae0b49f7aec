"""The ``local`` executor: bounded thread or process pools on this machine."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures import Executor as PoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from cde_core.contracts.executor import Job
from cde_core.errors import WorkerLostError
from cde_core.progress import CancelToken, ProgressCallback


class LocalExecutorParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["thread", "process"] = Field("thread", description="threads (Numba kernels release the "
                                               "GIL) or processes (pure-Python work)")
    max_workers: int | None = Field(None, ge=1, description="pool size; default: number of CPUs")


class LocalExecutor:
    """Runs jobs in a pool, at most ``max_workers`` in flight, so memory stays bounded."""

    name = "local"

    def __init__(self, params: LocalExecutorParams | None = None) -> None:
        self.params = params or LocalExecutorParams()
        self.max_workers = self.params.max_workers or os.cpu_count() or 1

    def _pool(self) -> PoolExecutor:
        if self.params.kind == "process":
            return ProcessPoolExecutor(max_workers=self.max_workers)
        return ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="cde-local")

    def run(self, jobs: Sequence[Job], *, progress: ProgressCallback | None = None,
            cancel: CancelToken | None = None) -> list[Any]:
        results: list[Any] = [None] * len(jobs)
        if not jobs:
            return results
        if self.max_workers == 1 and self.params.kind == "thread":
            return self._run_inline(jobs, results, progress, cancel)
        pending = list(enumerate(jobs))[::-1]
        in_flight: dict[Future[Any], int] = {}
        done_count = 0
        with self._pool() as pool:
            try:
                while pending or in_flight:
                    while pending and len(in_flight) < self.max_workers:
                        if cancel is not None:
                            cancel.raise_if_cancelled("executor")
                        index, job = pending.pop()
                        in_flight[pool.submit(job.fn, *job.args, **job.kwargs)] = index
                    finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in finished:
                        index = in_flight[future]
                        results[index] = _result_of(future, jobs[index], [jobs[i].key for i in in_flight.values()])
                        del in_flight[future]
                        done_count += 1
                        if progress is not None:
                            progress(done_count / len(jobs), jobs[index].key)
            except BaseException:
                for future in in_flight:
                    future.cancel()
                raise
        return results

    @staticmethod
    def _run_inline(jobs: Sequence[Job], results: list[Any], progress: ProgressCallback | None,
                    cancel: CancelToken | None) -> list[Any]:
        for index, job in enumerate(jobs):
            if cancel is not None:
                cancel.raise_if_cancelled("executor")
            try:
                results[index] = job()
            except BaseException as exc:
                exc.add_note(f"raised by cde job '{job.key}' in the local executor")
                raise
            if progress is not None:
                progress((index + 1) / len(jobs), job.key)
        return results

    def close(self) -> None:
        """Pools live only for one ``run``; nothing to release."""


def _result_of(future: Future[Any], job: Job, in_flight: list[str]) -> Any:
    """The job's return value. A job's own exception is re-raised as is, noting which job raised it (as
    the dask executor does); a worker process that died (SIGKILL, the kernel's out-of-memory killer)
    breaks the whole pool and every job in it with a bare ``BrokenProcessPool`` ("internal error" on
    screen, naming no job), so it becomes one line naming the jobs that were running."""
    try:
        return future.result()
    except BrokenProcessPool:
        shown = ", ".join(f"'{key}'" for key in in_flight[:5]) + (f" … ({len(in_flight)} in all)"
                                                                    if len(in_flight) > 5 else "")
        raise WorkerLostError(f"a worker process of the local process pool died while running cde job(s) {shown}",
                              where="executor (local, kind: process)",
                              hint="it was killed from outside, most often by the system when memory ran out: "
                                   "lower executor.max_workers or free memory, then re-run; finished partitions "
                                   "are kept") from None
    except BaseException as exc:
        exc.add_note(f"raised by cde job '{job.key}' in the local executor")
        raise


class LocalExecutorType:
    name = "local"
    summary = "thread or process pool on this machine (bounded, ordered results, cancellable)"
    Params: ClassVar[type[BaseModel]] = LocalExecutorParams

    def create(self, params: BaseModel) -> LocalExecutor:
        return LocalExecutor(LocalExecutorParams.model_validate(params.model_dump()))
