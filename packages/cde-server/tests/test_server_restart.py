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
