"""The two task stores keep the same contract: atomic compare-and-set transitions, TTL on finished
tasks, progress only while running, cancel semantics, orphan listing."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from cde_core.tasks import TaskInfo
from cde_server.tasks import MemoryTaskStore, TaskStore, open_task_store
from cde_server.tasks.store import InstanceRecord


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[TaskStore]:
    if request.param == "memory":
        yield MemoryTaskStore(ttl_s=3600)
        return
    url = request.getfixturevalue("redis_url")
    redis_store = open_task_store(url, ttl_s=3600)
    yield redis_store
    redis_store.wipe()  # type: ignore[attr-defined]
    redis_store.close()


def new_task(**fields: Any) -> TaskInfo:
    return TaskInfo(id=uuid.uuid4().hex, kind="k", params={"a": 1}, created_at=datetime.now(UTC), **fields)


def now() -> str:
    return datetime.now(UTC).isoformat()


def test_server_store_round_trips_a_task(store: TaskStore) -> None:
    info = new_task(idempotent=True, timeout_s=2.5)
    store.create(info, owner="me")
    assert store.get(info.id) == info
    assert store.get("missing") is None
    assert [t.id for t in store.list_tasks()] == [info.id]


def test_server_store_transition_is_compare_and_set(store: TaskStore) -> None:
    info = new_task()
    store.create(info, owner="me")
    winners: list[int] = []
    barrier = threading.Barrier(8)

    def claim(worker: int) -> None:
        barrier.wait()
        if store.transition(info.id, "running", expect={"queued"}, started_at=now()) is not None:
            winners.append(worker)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert store.transition(info.id, "failed", expect={"queued"}) is None
    assert store.transition(info.id, "succeeded", expect={"running"}, expect_owner="someone-else") is None
    done = store.transition(info.id, "succeeded", expect={"running"}, expect_owner="me", result={"x": [1, 2]},
                            progress=1.0, finished_at=now())
    assert done is not None and done.status == "succeeded" and done.result == {"x": [1, 2]}
    assert store.get(info.id) == done
    assert store.unfinished() == []


def test_server_store_progress_only_while_running(store: TaskStore) -> None:
    info = new_task()
    store.create(info, owner="me")
    assert store.set_progress(info.id, 0.5, "half") is False
    store.transition(info.id, "running", expect={"queued"})
    assert store.set_progress(info.id, 0.5, "half") is True
    got = store.get(info.id)
    assert got is not None and (got.progress, got.message) == (0.5, "half")
    store.transition(info.id, "failed", expect={"running"}, error="x")
    assert store.set_progress(info.id, 0.9, "late") is False
    got = store.get(info.id)
    assert got is not None and got.progress == 0.5


def test_server_store_cancel_queued_at_once_running_by_flag(store: TaskStore) -> None:
    queued, running = new_task(), new_task()
    for info in (queued, running):
        store.create(info, owner="me")
    store.transition(running.id, "running", expect={"queued"})
    cancelled = store.request_cancel(queued.id, finished_at=now())
    assert cancelled is not None and cancelled.status == "cancelled" and cancelled.finished_at is not None
    flagged = store.request_cancel(running.id, finished_at=now())
    assert flagged is not None and flagged.status == "running" and flagged.cancel_requested
    assert store.cancel_requested([queued.id, running.id, "missing"]) == {running.id}
    assert store.request_cancel("missing", finished_at=now()) is None


def test_server_store_lists_orphans_with_owner_and_filters(store: TaskStore) -> None:
    a, b, c = new_task(), new_task(), new_task()
    store.create(a, owner="x")
    store.create(b, owner="y")
    store.create(c, owner="x")
    store.transition(c.id, "cancelled", expect={"queued"})
    assert sorted((o.info.id, o.owner) for o in store.unfinished()) == sorted([(a.id, "x"), (b.id, "y")])
    assert {t.id for t in store.list_tasks(status="queued")} == {a.id, b.id}
    assert [t.id for t in store.list_tasks(limit=1)] == [c.id]  # newest first
    assert store.list_tasks(kind="other") == []


def test_server_store_instances_heartbeat_and_expire(store: TaskStore) -> None:
    record = InstanceRecord("inst-1", "host-a", 1234)
    assert store.instance("inst-1") is None
    store.heartbeat(record, ttl_s=60)
    assert store.instance("inst-1") == record
    store.drop_instance("inst-1")
    assert store.instance("inst-1") is None


def test_server_redis_store_expires_finished_tasks(redis_url: str) -> None:
    from cde_server.tasks.redis_store import RedisTaskStore

    store = RedisTaskStore(redis_url, ttl_s=120)
    try:
        info = new_task()
        store.create(info, owner="me")
        key = f"{store.prefix}task:{info.id}"
        assert store.redis.ttl(key) == -1  # unfinished tasks never expire
        store.transition(info.id, "succeeded", expect={"queued"})
        assert 0 < store.redis.ttl(key) <= 120
        assert not store.redis.sismember(f"{store.prefix}active", info.id)
        store.redis.delete(key)  # as if the TTL had run out: the index entry is pruned on listing
        assert store.list_tasks() == []
        assert store.redis.zcard(f"{store.prefix}tasks") == 0
    finally:
        store.wipe()
        store.close()


def test_server_memory_store_expires_finished_tasks() -> None:
    store = MemoryTaskStore(ttl_s=0)
    info = new_task()
    store.create(info, owner="me")
    store.transition(info.id, "failed", expect={"queued"})
    assert store.get(info.id) is None
