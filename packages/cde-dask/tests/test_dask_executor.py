"""The dask executor keeps the local executor's contract: order, files, failures, progress, cancel."""

from __future__ import annotations

import threading
import time
import zlib
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cde_core.contracts.executor import Job
from cde_core.errors import CancelledError
from cde_core.lake import Lake, Provenance
from cde_core.local_executor import LocalExecutor, LocalExecutorParams
from cde_core.progress import CancelToken
from cde_core.schemas import TRADES_SCHEMA
from cde_dask import DaskExecutor, DaskExecutorParams

HANG_GUARD_S = 60.0


def square_after(x: int, delay: float) -> int:
    time.sleep(delay)
    return x * x


def write_symbol_trades(root: str, symbol: str, rows: int) -> str:
    """A deterministic trades partition per symbol (seeded by a stable hash, not ``hash()``)."""
    rng = np.random.default_rng(zlib.crc32(symbol.encode()))
    ts = np.datetime64("2024-01-01T00:00:00", "us") + np.cumsum(rng.integers(1, 5_000_000, rows))
    price = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-4, rows)))
    qty = rng.exponential(0.5, rows)
    table = pa.Table.from_arrays(
        [pa.array(ts.astype("int64"), pa.int64()).cast(TRADES_SCHEMA.field("ts").type),
         pa.array(np.arange(1, rows + 1)), pa.array(price), pa.array(qty), pa.array(price * qty),
         pa.array(rng.random(rows) < 0.5)], schema=TRADES_SCHEMA)
    lake = Lake(root)
    path = lake.write_partition(lake.trades_dir("binance", "spot", symbol, date(2024, 1, 1)), table,
                                Provenance(source="synthetic", rows=rows))
    return str(path.relative_to(lake.root))


def fail_on(x: int, bad: int, marks: str) -> int:
    Path(marks, f"ran-{x}").touch()
    if x == bad:
        raise ValueError(f"job {x} failed")
    time.sleep(0.02)
    return x


def fail_first_attempt(marks: str) -> str:
    """Raises the first time it runs, succeeds afterwards (a transient error)."""
    mark = Path(marks, "attempted")
    if not mark.exists():
        mark.touch()
        raise OSError("transient read error")
    return "ok"


def wait_for_release(i: int, marks: str) -> int:
    Path(marks, f"started-{i}").touch()
    deadline = time.monotonic() + HANG_GUARD_S
    while not Path(marks, "release").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    Path(marks, f"finished-{i}").touch()
    return i


def scheduler_tasks_in_flight(dask_scheduler: Any) -> int:
    return sum(ts.state in {"waiting", "queued", "processing", "no-worker"}
               for ts in dask_scheduler.tasks.values())


def test_results_come_back_in_job_order_like_the_local_executor(dask_executor: DaskExecutor) -> None:
    # even jobs are slow, odd ones instant: the cluster finishes them out of order
    jobs = [Job(f"j{i}", square_after, (i, 0.3 if i % 2 == 0 else 0.0)) for i in range(10)]
    finished: list[str] = []
    got = dask_executor.run(jobs, progress=lambda _f, key: finished.append(key))
    assert got == LocalExecutor(LocalExecutorParams(max_workers=2)).run(jobs) == [i * i for i in range(10)]
    assert finished != [job.key for job in jobs], "jobs finished in order; the test proves nothing"


def test_parquet_written_by_jobs_is_bit_identical_to_the_local_executor(dask_executor: DaskExecutor,
                                                                       tmp_path: Path) -> None:
    symbols = [f"SYM{i}USDT" for i in range(6)]

    def jobs_into(root: Path) -> list[Job]:
        return [Job(s, write_symbol_trades, (str(root), s, 2_000 + 500 * i)) for i, s in enumerate(symbols)]

    local_paths = LocalExecutor(LocalExecutorParams(max_workers=2)).run(jobs_into(tmp_path / "local"))
    dask_paths = dask_executor.run(jobs_into(tmp_path / "dask"))
    assert dask_paths == local_paths and len(set(local_paths)) == len(symbols)
    for relative in local_paths:
        local_file, dask_file = tmp_path / "local" / relative, tmp_path / "dask" / relative
        assert pq.read_table(dask_file).equals(pq.read_table(local_file), check_metadata=True)
        assert dask_file.read_bytes() == local_file.read_bytes()


def test_first_failure_is_reraised_with_the_job_key_and_stops_submitting(dask_executor: DaskExecutor,
                                                                         tmp_path: Path) -> None:
    dask_executor.params.max_in_flight = 2
    dask_executor.params.retries = 0
    jobs = [Job(f"job-{i}", fail_on, (i, 3, str(tmp_path))) for i in range(100)]
    with pytest.raises(ValueError, match="job 3 failed") as raised:
        dask_executor.run(jobs)
    assert any("job-3" in note for note in raised.value.__notes__)
    assert len(list(tmp_path.glob("ran-*"))) < 100


def test_a_job_that_raises_is_retried(dask_executor: DaskExecutor, tmp_path: Path) -> None:
    dask_executor.params.retries = 0
    with pytest.raises(OSError, match="transient"):
        dask_executor.run([Job("flaky", fail_first_attempt, (str(tmp_path),))])
    (tmp_path / "attempted").unlink()
    dask_executor.params.retries = 1
    assert dask_executor.run([Job("flaky", fail_first_attempt, (str(tmp_path),))]) == ["ok"]


def test_progress_reaches_one_and_names_each_job(dask_executor: DaskExecutor) -> None:
    seen: list[tuple[float, str]] = []
    dask_executor.run([Job(f"job-{i}", square_after, (i, 0.0)) for i in range(4)],
                      progress=lambda f, m: seen.append((f, m)))
    assert [f for f, _ in seen] == [0.25, 0.5, 0.75, 1.0]
    assert sorted(m for _, m in seen) == ["job-0", "job-1", "job-2", "job-3"]


def test_submission_is_bounded_to_the_in_flight_window(dask_executor: DaskExecutor) -> None:
    dask_executor.params.max_in_flight = 3
    client = dask_executor.client
    observed: list[int] = []
    jobs = [Job(f"j{i}", square_after, (i, 0.05)) for i in range(30)]
    assert dask_executor.run(jobs, progress=lambda _f, _m: observed.append(
        client.run_on_scheduler(scheduler_tasks_in_flight))) == [i * i for i in range(30)]
    assert max(observed) <= 3


def test_cancel_between_jobs_stops_the_run(dask_executor: DaskExecutor, tmp_path: Path) -> None:
    dask_executor.params.max_in_flight = 2
    token = CancelToken()
    jobs = [Job(f"job-{i}", fail_on, (i, -1, str(tmp_path))) for i in range(100)]
    with pytest.raises(CancelledError):
        dask_executor.run(jobs, progress=lambda _f, _m: token.cancel(), cancel=token)
    assert len(list(tmp_path.glob("ran-*"))) < 100


def test_cancel_wakes_the_caller_while_jobs_are_still_running(dask_executor: DaskExecutor,
                                                               tmp_path: Path) -> None:
    token = CancelToken()
    jobs = [Job(f"wait-{i}", wait_for_release, (i, str(tmp_path))) for i in range(4)]

    def cancel_once_started() -> None:
        deadline = time.monotonic() + HANG_GUARD_S
        while not list(tmp_path.glob("started-*")) and time.monotonic() < deadline:
            time.sleep(0.02)
        token.cancel()

    canceller = threading.Thread(target=cancel_once_started)
    canceller.start()
    try:
        with pytest.raises(CancelledError):
            dask_executor.run(jobs, cancel=token)
        # the caller got control back while every job was still blocked: nothing had finished
        assert not list(tmp_path.glob("finished-*"))
    finally:
        (tmp_path / "release").touch()  # let the cancelled tasks still running on workers end
        canceller.join()


def test_an_already_cancelled_token_submits_nothing(tmp_path: Path) -> None:
    token = CancelToken()
    token.cancel()
    executor = DaskExecutor(DaskExecutorParams(scheduler="tcp://127.0.0.1:1"))  # never contacted
    with pytest.raises(CancelledError):
        executor.run([Job("j", fail_on, (0, -1, str(tmp_path)))], cancel=token)
    assert executor.run([]) == []
    assert not list(tmp_path.iterdir())
