"""A worker killed mid-run: Dask reassigns its tasks and the files written are the same as locally.

Jobs write their output atomically (temp + rename), so a job that ran partly on the dead worker and
again elsewhere leaves exactly one complete file with the same bytes.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from cde_core.atomic import atomic_write_bytes
from cde_core.contracts.executor import Job
from cde_core.local_executor import LocalExecutor, LocalExecutorParams
from cde_dask import DaskExecutor

HANG_GUARD_S = 60.0


def slow_atomic_write(i: int, out: str, marks: str) -> str:
    """Records each attempt (which process ran it), sleeps, then writes its output atomically."""
    pid = os.getpid()
    Path(marks, f"started-{i}-{pid}").touch()
    time.sleep(0.4)
    target = Path(out, f"part-{i:03d}.bin")
    atomic_write_bytes(target, (f"partition {i}\n" * (100 + i)).encode())
    Path(marks, f"done-{i}-{pid}").touch()
    return target.name


def kill_a_worker_mid_job(pids: set[int], marks: Path, killed: list[tuple[int, int]]) -> None:
    """SIGKILL the first worker seen running a job it has not finished; record (pid, job)."""
    deadline = time.monotonic() + HANG_GUARD_S
    while time.monotonic() < deadline:
        for started in marks.glob("started-*"):
            _, job, pid = started.name.split("-")
            if int(pid) in pids and not (marks / f"done-{job}-{pid}").exists():
                os.kill(int(pid), signal.SIGKILL)
                killed.append((int(pid), int(job)))
                return
        time.sleep(0.01)


def test_killing_a_worker_mid_run_still_gives_identical_output(dask_executor: DaskExecutor,
                                                               tmp_path: Path) -> None:
    n = 16
    (tmp_path / "marks").mkdir()
    (tmp_path / "local-marks").mkdir()

    def jobs_into(out: Path, marks: Path) -> list[Job]:
        return [Job(f"part-{i}", slow_atomic_write, (i, str(out), str(marks))) for i in range(n)]

    expected = LocalExecutor(LocalExecutorParams(max_workers=2)).run(jobs_into(tmp_path / "local",
                                                                               tmp_path / "local-marks"))
    pids = set(dask_executor.client.run(os.getpid).values())
    killed: list[tuple[int, int]] = []
    killer = threading.Thread(target=kill_a_worker_mid_job, args=(pids, tmp_path / "marks", killed))
    killer.start()
    try:
        got = dask_executor.run(jobs_into(tmp_path / "dask", tmp_path / "marks"))
    finally:
        killer.join()

    assert killed, "no worker was killed; the test proves nothing"
    victim, job = killed[0]
    assert not (tmp_path / "marks" / f"done-{job}-{victim}").exists()
    rerun_by = [p.name for p in (tmp_path / "marks").glob(f"done-{job}-*")]
    assert len(rerun_by) == 1, "the interrupted job was not completed elsewhere"
    assert got == expected
    local_files = sorted(p.name for p in (tmp_path / "local").iterdir())
    dask_files = sorted(p.name for p in (tmp_path / "dask").iterdir() if not p.name.startswith("."))
    assert dask_files == local_files == sorted(expected)
    for name in local_files:
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
