"""Acceptance: SIGKILL the server with tasks running on the Redis store, start it again.

The plain task must be reported failed with a reason, the idempotent one (its kind has a handler)
re-run to success by the new instance; neither may stay queued or running.
"""

from __future__ import annotations

from typing import Any

FINISHED = {"succeeded", "failed", "cancelled"}


def test_server_restart_after_sigkill_fails_or_reruns_tasks(start_server: Any, server_env: dict[str, str],
                                                            redis_url: str, poll: Any) -> None:
    env = {**server_env, "CDE_TASK_STORE": redis_url, "CDE_TEST_WORKERS": "4"}
    first = start_server(env)
    with first.client() as client:
        plain = client.post("/test/slow", json={"steps": 1000, "delay_s": 0.02}).json()["id"]
        rerun = client.post("/test/slow", json={"steps": 200, "delay_s": 0.01, "idempotent": True}).json()["id"]
        for task_id in (plain, rerun):
            poll(client, task_id, until=lambda t: t["status"] == "running" and t["progress"] > 0)
    first.kill()

    second = start_server(env)
    with second.client() as client:
        # recovered during start-up: the dead instance was on this host and its pid is gone
        failed = client.get(f"/tasks/{plain}").json()
        assert failed["status"] == "failed"
        assert failed["error"] == "server restarted while the task was running"
        assert failed["finished_at"] is not None

        done = poll(client, rerun, until=lambda t: t["status"] in FINISHED)
        assert done["status"] == "succeeded", done
        assert done["result"]["pid"] == second.process.pid
        assert done["result"]["steps"] == 200
        assert client.get("/tasks", params={"status": "running"}).json() == []
        assert client.get("/tasks", params={"status": "queued"}).json() == []


def test_a_task_process_dies_with_its_server(start_server: Any, server_env: dict[str, str], lake_root: Any,
                                             poll: Any) -> None:
    """``pool="process"``: the task's own process outlived a SIGKILLed server and worked on to the end —
    committing (here: journaling) after its server was gone, beside the task the restarted server re-runs.
    A quiet task never noticed: only a progress report hits the broken pipe."""
    import os
    import time

    server = start_server({**server_env, "CDE_TASK_STORE": "memory"})
    with server.client() as client:
        task = client.post("/test/slow", json={"steps": 400, "delay_s": 0.05, "pool": "process", "quiet": True,
                                               "journal": True}).json()
        poll(client, task["id"], until=lambda t: t["status"] == "running")
    journal = lake_root / f"journal-{task['id']}.log"
    deadline = time.monotonic() + 60  # hang guard only
    while not journal.exists() or not journal.read_text().strip():
        assert time.monotonic() < deadline, "the task process never started"
        time.sleep(0.05)
    child = int(journal.read_text().split()[0])
    assert child != server.process.pid  # journaled by the task's own process
    server.kill()
    while _alive(child):
        assert time.monotonic() < deadline + 60, "the task process outlived its server"
        time.sleep(0.05)
    steps = [int(line.split()[1]) for line in journal.read_text().splitlines()]
    assert steps[-1] < 399, "the orphaned task process worked on to the end after its server died"
    assert not os.path.exists(f"/proc/{child}") or _zombie(child)


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False
