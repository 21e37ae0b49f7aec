"""The local executor: ordering, failure, cancellation, progress, and selection by config."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from cde_core.config import ExecutorConfig
from cde_core.contracts.executor import Job
from cde_core.errors import CancelledError, WorkerLostError
from cde_core.executors import create_executor
from cde_core.local_executor import LocalExecutor, LocalExecutorParams
from cde_core.progress import CancelToken, scaled


def square(x: int) -> int:
    time.sleep(0.001 * (x % 3))
    return x * x


def fail_on(x: int, bad: int) -> int:
    if x == bad:
        raise ValueError(f"job {x} failed")
    return x


def killed_on(x: int, bad: int) -> int:
    """A job whose worker process dies under it, as under the kernel's out-of-memory killer."""
    if x == bad:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.05)
    return x


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_results_come_back_in_job_order(kind: str) -> None:
    executor = LocalExecutor(LocalExecutorParams(kind=kind, max_workers=2))
    jobs = [Job(f"j{i}", square, (i,)) for i in range(20)]
    assert executor.run(jobs) == [i * i for i in range(20)]


def test_first_failure_propagates() -> None:
    executor = LocalExecutor(LocalExecutorParams(max_workers=2))
    with pytest.raises(ValueError, match="job 3 failed"):
        executor.run([Job(str(i), fail_on, (i, 3)) for i in range(10)])


@pytest.mark.parametrize(("kind", "workers"), [("thread", 1), ("thread", 2), ("process", 2)])
def test_a_failing_job_is_named_whatever_the_pool(kind: str, workers: int) -> None:
    """As the dask executor does: the job's own exception, with a note naming the job."""
    executor = LocalExecutor(LocalExecutorParams(kind=kind, max_workers=workers))
    with pytest.raises(ValueError, match="job 3 failed") as raised:
        executor.run([Job(f"bars/SYM{i}", fail_on, (i, 3)) for i in range(6)])
    assert any("cde job 'bars/SYM3'" in note for note in getattr(raised.value, "__notes__", [])), raised.value


def test_a_worker_process_killed_mid_job_fails_the_run_with_one_line_naming_the_job() -> None:
    """A killed pool process used to surface as a bare BrokenProcessPool ("internal error", no job)."""
    executor = LocalExecutor(LocalExecutorParams(kind="process", max_workers=2))
    with pytest.raises(WorkerLostError) as raised:
        executor.run([Job(f"features/SYM{i}", killed_on, (i, 2)) for i in range(6)])
    line = raised.value.one_line()
    assert "\n" not in line and "'features/SYM2'" in line and "died" in line, line
    assert "max_workers" in line and "re-run" in line, line
    # the pool is per run: the next run works
    assert executor.run([Job(f"j{i}", square, (i,)) for i in range(4)]) == [0, 1, 4, 9]


def test_progress_reaches_one_and_names_jobs() -> None:
    seen: list[tuple[float, str]] = []
    LocalExecutor(LocalExecutorParams(max_workers=2)).run(
        [Job(f"job-{i}", square, (i,)) for i in range(4)], progress=lambda f, m: seen.append((f, m)))
    assert [f for f, _ in seen] == [0.25, 0.5, 0.75, 1.0]
    assert {m for _, m in seen} == {"job-0", "job-1", "job-2", "job-3"}


def test_cancellation_stops_submitting_new_jobs() -> None:
    token = CancelToken()
    started: list[int] = []
    lock = threading.Lock()

    def work(i: int) -> int:
        with lock:
            started.append(i)
        if i == 1:
            token.cancel()
        return i

    with pytest.raises(CancelledError):
        LocalExecutor(LocalExecutorParams(max_workers=1, kind="thread")).run(
            [Job(str(i), work, (i,)) for i in range(50)], cancel=token)
    assert len(started) < 50


def test_configured_executor_is_resolved_through_the_registry() -> None:
    executor = create_executor(ExecutorConfig(name="local", max_workers=3))
    assert isinstance(executor, LocalExecutor) and executor.max_workers == 3


def test_scaled_progress_maps_into_the_parent_range() -> None:
    got: list[float] = []
    child = scaled(lambda f, m: got.append(f), 0.5, 0.75)
    child(0.0, "")
    child(1.0, "")
    child(2.0, "")
    assert got == [0.5, 0.75, 0.75]
