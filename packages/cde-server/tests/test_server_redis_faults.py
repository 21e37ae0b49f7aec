"""Tasks under Redis faults (issue 19, items 5-8), on real processes.

Each test starts its own redis-server on a free loopback port and pauses it with SIGSTOP / SIGCONT
(never the shared Redis on 6379), or freezes a server process the same way. The harness servers
read the store with ``socket_timeout=1`` so a paused Redis costs a second per call instead of ten.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from cde_core.testing.ports import free_port

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")

#: a hang guard only
DEADLINE_S = 120.0
#: longer than the 7 retries the server used to give the final write (about 31 s with a 1 s socket
#: timeout: 7 timeouts plus 0.5+1+2+4+8+8 s of back-off), after which a task read `running` for ever
LONG_PAUSE_S = 40.0


class PrivateRedis:
    """A redis-server of this test alone, which it may pause."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no", "--dir", str(workdir)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        deadline = time.monotonic() + DEADLINE_S
        while True:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=1).ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0?prefix=faults-{uuid.uuid4().hex[:8]}&socket_timeout=1"

    @contextmanager
    def paused(self) -> Iterator[None]:
        os.kill(self.process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    yield server
    server.stop()


def _poll(client: httpx.Client, task_id: str, until: Any) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        try:
            answer = client.get(f"/tasks/{task_id}")
            task = answer.json() if answer.status_code == 200 else None
        except httpx.TransportError:
            task = None
        if task is not None and until(task):
            return task
        if time.monotonic() > deadline:
            pytest.fail(f"task never reached the expected state: {task}")
        time.sleep(0.05)


def test_a_finished_result_outlives_a_long_redis_pause(private_redis: PrivateRedis, start_server: Any,
                                                       server_env: dict[str, str]) -> None:
    """Item 5: the work ends while Redis is paused for longer than the old retry budget; once Redis
    answers the task reads succeeded with its result, not `running` for ever."""
    server = start_server({**server_env, "CDE_TASK_STORE": private_redis.url()})
    with server.client() as client:
        task = client.post("/test/slow", json={"steps": 10, "delay_s": 0.1}).json()
        _poll(client, task["id"], lambda t: t["status"] == "running")
        with private_redis.paused():
            time.sleep(LONG_PAUSE_S)
        done = _poll(client, task["id"], lambda t: t["status"] != "running")
    assert done["status"] == "succeeded" and done["result"]["steps"] == 10, done
    assert done["progress"] == 1.0


def test_a_short_redis_pause_does_not_fail_running_work(private_redis: PrivateRedis, start_server: Any,
                                                        server_env: dict[str, str]) -> None:
    """Item 6: progress is best effort: a progress write that times out never reaches the work."""
    server = start_server({**server_env, "CDE_TASK_STORE": private_redis.url()})
    with server.client() as client:
        task = client.post("/test/slow", json={"steps": 50, "delay_s": 0.1}).json()
        _poll(client, task["id"], lambda t: t["status"] == "running" and t["progress"] > 0)
        with private_redis.paused():
            time.sleep(4)
        done = _poll(client, task["id"], lambda t: t["status"] not in ("queued", "running"))
    assert done["status"] == "succeeded" and done["result"]["steps"] == 50, done


def test_routes_answer_503_with_a_cause_and_retry_after_while_redis_is_down(
        private_redis: PrivateRedis, start_server: Any, server_env: dict[str, str]) -> None:
    """Item 8: every route that needs the store says 503 + cause + Retry-After (not 500), and the
    outage is logged once, not a traceback per maintenance tick."""
    server = start_server({**server_env, "CDE_TASK_STORE": private_redis.url()})
    with server.client() as client:
        task_id = client.post("/test/slow", json={"steps": 1, "delay_s": 0.0}).json()["id"]
        _poll(client, task_id, lambda t: t["status"] == "succeeded")
        log_before = server.log.read_text()
        with private_redis.paused():
            answers = {"GET /tasks": client.get("/tasks"), "GET /tasks/{id}": client.get(f"/tasks/{task_id}"),
                       "POST /tasks/{id}/cancel": client.post(f"/tasks/{task_id}/cancel"),
                       "POST /test/slow": client.post("/test/slow", json={"steps": 1}),
                       "GET /health": client.get("/health"), "HEAD /health": client.head("/health")}
            time.sleep(3)  # maintenance keeps failing meanwhile
        for route, answer in answers.items():
            assert answer.status_code == 503, (route, answer.status_code, answer.text)
            assert answer.headers["Retry-After"].isdigit(), route
            if route != "HEAD /health":
                assert "task store does not answer" in answer.json()["detail"], route
        time.sleep(1)
        log = server.log.read_text()[len(log_before):]
    assert "Traceback" not in log, log[-3000:]
    assert log.count("task store unavailable") == 1, log[-3000:]


def test_a_frozen_owner_stops_when_its_task_was_taken_over(start_server: Any, server_env: dict[str, str],
                                                         redis_url: str, lake_root: Path) -> None:
    """Item 7: freeze the owner past its heartbeat TTL, let a second server take the task over, resume
    the first: only the second runs it to the end; the first commits nothing after it resumes."""
    env = {**server_env, "CDE_TASK_STORE": redis_url, "CDE_TEST_HEARTBEAT_S": "0.5"}
    first = start_server(env)
    assert first.process is not None
    with first.client() as client:
        task = client.post("/test/slow", json={"steps": 60, "delay_s": 0.1, "idempotent": True,
                                               "journal": True}).json()
        _poll(client, task["id"], lambda t: t["status"] == "running" and t["progress"] > 0.05)
    journal = lake_root / f"journal-{task['id']}.log"
    os.kill(first.process.pid, signal.SIGSTOP)
    try:
        second = start_server(env)
        assert second.process is not None
        with second.client() as client:
            deadline = time.monotonic() + DEADLINE_S
            while f"{second.process.pid} " not in journal.read_text():  # the takeover runs
                assert time.monotonic() < deadline, "the second server never took the task over"
                time.sleep(0.05)
    finally:
        resumed = time.time()
        os.kill(first.process.pid, signal.SIGCONT)
    with second.client() as client:
        done = _poll(client, task["id"], lambda t: t["status"] not in ("queued", "running"))
    deadline = time.monotonic() + DEADLINE_S
    first_pid = str(first.process.pid)
    while "this run stopped and records nothing" not in first.log.read_text():
        steps = [line.split() for line in journal.read_text().splitlines()]
        if any(pid == first_pid and int(step) == 59 for pid, step, _ in steps):
            break  # the first ran to the end: the assertion below names what it wrote
        assert time.monotonic() < deadline, "the first server neither stopped nor finished"
        time.sleep(0.05)
    steps = [line.split() for line in journal.read_text().splitlines()]
    after_resume = [step for pid, step, at in steps if pid == first_pid and float(at) >= resumed]
    assert after_resume == [], f"the frozen owner committed steps {after_resume} after it resumed"
    assert done["status"] == "succeeded" and done["result"]["pid"] == second.process.pid, done
    by_second = [int(step) for pid, step, _ in steps if pid == str(second.process.pid)]
    assert by_second == list(range(60)), by_second


def test_an_owner_that_cannot_record_the_end_is_recovered_like_a_dead_one(
        private_redis: PrivateRedis, start_server: Any, server_env: dict[str, str]) -> None:
    """Item 5, second half: the owner stays alive and heartbeats, but its final write keeps failing
    (here: its Redis user loses the right to run scripts). It lets its heartbeat lapse, and a second
    server recovers the task instead of it reading `running` for ever."""
    import redis

    admin = redis.Redis(port=private_redis.port)
    admin.execute_command("ACL", "SETUSER", "owner", "on", ">pw", "~*", "&*", "+@all")
    url = private_redis.url()
    env = {**server_env, "CDE_TEST_HEARTBEAT_S": "0.5"}
    owner = start_server({**env, "CDE_TASK_STORE": url.replace("redis://", "redis://owner:pw@")})
    with owner.client() as client:
        task = client.post("/test/slow", json={"steps": 20, "delay_s": 0.1}).json()
        _poll(client, task["id"], lambda t: t["status"] == "running")
    admin.execute_command("ACL", "SETUSER", "owner", "-@scripting")  # no more transitions or progress
    other = start_server({**env, "CDE_TASK_STORE": url})
    with other.client() as client:
        done = _poll(client, task["id"], lambda t: t["status"] not in ("queued", "running"))
    assert done["status"] == "failed" and "while the task was running" in done["error"], done
    assert "stops its heartbeat" in owner.log.read_text()


def test_cde_tasks_show_wait_rides_out_a_redis_pause(private_redis: PrivateRedis, start_server: Any,
                                                      server_env: dict[str, str]) -> None:
    """`cde tasks show ID --wait` exited 1 with "task store unavailable (HTTP 503)" at the first poll
    that met a Redis pause, while the task went on and succeeded: a waiting script was told it failed.
    It now waits out the 503 (saying so once on stderr) and reports the task's real end."""
    import sys

    server = start_server({**server_env, "CDE_TASK_STORE": private_redis.url()})
    with server.client() as client:
        task = client.post("/test/slow", json={"steps": 40, "delay_s": 0.1}).json()
        _poll(client, task["id"], lambda t: t["status"] == "running")
        waiter = subprocess.Popen([sys.executable, "-m", "cde_server.cli.main", "tasks", "show", task["id"], "--wait",
                                   "--json", "--url", server.url], env=server_env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        with private_redis.paused():
            time.sleep(4)  # several of the waiter's polls (every 0.5 s) meet the pause
        out, err = waiter.communicate(timeout=DEADLINE_S)
    assert waiter.returncode == 0, err
    assert '"status": "succeeded"' in out, out
    assert "waiting: the redis task store does not answer" in err and "HTTP 503" in err, err
    assert err.count("waiting:") == 1, err  # said once, not at every poll
