"""The task manager in-process: throttled progress, timeouts, cross-instance cancel, recovery of
tasks whose instance died elsewhere, graceful shutdown hand-over, and a Redis throughput figure."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from cde_core.errors import CancelledError
from cde_core.tasks import FINISHED, TaskContext, TaskInfo, TaskSubmitter
from cde_server.tasks import MemoryTaskStore, TaskManager, TaskStore, open_task_store
from cde_server.tasks.store import InstanceRecord

HANG_GUARD_S = 60.0


def wait_until(predicate: Any, what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD_S
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def finished(manager: TaskManager, task_id: str) -> TaskInfo:
    wait_until(lambda: manager.get(task_id).status in FINISHED, f"task {task_id} to finish")
    return manager.get(task_id)


@pytest.fixture
def redis_store(redis_url: str) -> Iterator[TaskStore]:
    store = open_task_store(redis_url, ttl_s=3600)
    yield store
    store.wipe()  # type: ignore[attr-defined]
    store.close()


@pytest.fixture
def managers() -> Iterator[list[TaskManager]]:
    made: list[TaskManager] = []
    yield made
    for manager in made:
        manager.close(wait_s=1)


class CountingStore(MemoryTaskStore):
    def __init__(self) -> None:
        super().__init__()
        self.progress_writes = 0

    def set_progress(self, task_id: str, progress: float, message: str, *, lease: str | None = None) -> bool:
        self.progress_writes += 1
        return super().set_progress(task_id, progress, message, lease=lease)


def test_server_manager_satisfies_task_submitter(managers: list[TaskManager]) -> None:
    manager = TaskManager(MemoryTaskStore()).start()
    managers.append(manager)
    assert isinstance(manager, TaskSubmitter)


def test_server_progress_writes_are_throttled_and_the_last_one_lands(managers: list[TaskManager]) -> None:
    store = CountingStore()
    manager = TaskManager(store, progress_interval_s=0.1).start()
    managers.append(manager)
    calls = 5000

    def chatty(ctx: TaskContext) -> str:
        for i in range(calls):
            ctx.progress((i + 1) / calls, f"{i + 1}")
            if i % 500 == 0:
                time.sleep(0.01)
        return "ok"

    started = time.monotonic()
    info = finished(manager, manager.submit("chatty", {}, chatty).id)
    elapsed = time.monotonic() - started
    assert info.status == "succeeded" and info.message == str(calls) and info.progress == 1.0
    # at most one write per interval (plus the first): the bound follows from the measured duration
    assert store.progress_writes <= elapsed / 0.1 + 2, (store.progress_writes, elapsed)


class RecordingStore(MemoryTaskStore):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[float] = []

    def set_progress(self, task_id: str, progress: float, message: str, *, lease: str | None = None) -> bool:
        self.written.append(progress)
        return super().set_progress(task_id, progress, message, lease=lease)


def test_server_task_progress_never_goes_back_and_reaches_one_once(managers: list[TaskManager]) -> None:
    """A stage reporting from two sources (jobs' fractions, the executor's count) then "done" made a
    polled task go 70 % → 40 % and show 100 % twice."""
    store = RecordingStore()
    manager = TaskManager(store, progress_interval_s=0.0).start()
    managers.append(manager)

    def two_sources(ctx: TaskContext) -> str:
        for fraction in (0.2, 0.7, 0.4, 1.0, 0.9, 1.0):
            ctx.progress(fraction, f"{fraction}")
        return "ok"

    info = finished(manager, manager.submit("two-sources", {}, two_sources).id)
    assert info.status == "succeeded" and info.progress == 1.0
    assert store.written == sorted(store.written) and store.written.count(1.0) == 1, store.written


def test_server_quiet_task_still_shows_its_latest_progress(managers: list[TaskManager]) -> None:
    manager = TaskManager(MemoryTaskStore(), progress_interval_s=0.5, tick_s=0.05).start()
    managers.append(manager)
    release = []

    def quiet(ctx: TaskContext) -> None:
        ctx.progress(0.1, "first")  # written (first write)
        ctx.progress(0.6, "second")  # throttled, then flushed by the maintenance tick
        wait_until(lambda: bool(release), "release")

    task_id = manager.submit("quiet", {}, quiet).id
    wait_until(lambda: manager.get(task_id).message == "second", "the throttled update to be flushed")
    release.append(True)
    assert finished(manager, task_id).status == "succeeded"


def test_server_result_must_be_json(managers: list[TaskManager]) -> None:
    manager = TaskManager(MemoryTaskStore()).start()
    managers.append(manager)
    info = finished(manager, manager.submit("bad", {}, lambda ctx: object()).id)
    assert info.status == "failed" and "not JSON-serialisable" in (info.error or "")


def test_server_default_timeout_from_config(managers: list[TaskManager]) -> None:
    manager = TaskManager(MemoryTaskStore(), default_timeout_s=0.2, tick_s=0.02).start()
    managers.append(manager)

    def forever(ctx: TaskContext) -> None:
        while True:
            ctx.cancel.raise_if_cancelled()
            time.sleep(0.01)

    info = finished(manager, manager.submit("forever", {}, forever).id)
    assert info.status == "failed" and info.error == "timed out after 0.2 s" and info.timeout_s == 0.2


def test_server_cancel_through_another_instance(redis_url: str, redis_store: TaskStore,
                                               managers: list[TaskManager]) -> None:
    runner = TaskManager(redis_store, tick_s=0.05).start()
    other = TaskManager(open_task_store(redis_url, ttl_s=3600), tick_s=0.05).start()  # a second server
    managers.extend([runner, other])

    def loop(ctx: TaskContext) -> None:
        while True:
            ctx.cancel.raise_if_cancelled("loop")
            time.sleep(0.01)

    task_id = runner.submit("loop", {}, loop).id
    wait_until(lambda: runner.get(task_id).status == "running", "running")
    assert other.cancel(task_id).cancel_requested
    info = finished(runner, task_id)
    assert info.status == "cancelled" and "work cancelled" in (info.error or "")


def test_server_orphans_of_an_instance_on_another_host_recover_after_its_heartbeat_expires(
        redis_store: TaskStore, managers: list[TaskManager]) -> None:
    ghost = InstanceRecord("ghost", "some-other-host", 1)
    redis_store.heartbeat(ghost, ttl_s=0.5)
    plain = TaskInfo(id=uuid.uuid4().hex, kind="k", created_at=datetime.now(UTC))
    rerun = TaskInfo(id=uuid.uuid4().hex, kind="again", params={"n": 3}, idempotent=True,
                     created_at=datetime.now(UTC))
    for info in (plain, rerun):
        redis_store.create(info, owner="ghost")
        redis_store.transition(info.id, "running", expect={"queued"})
    manager = TaskManager(redis_store, heartbeat_s=0.1, tick_s=0.02)
    manager.register_handler("again", lambda params, ctx: {"n": params["n"] * 2})
    manager.start()
    managers.append(manager)
    assert manager.get(plain.id).status == "running"  # the ghost is still alive: hands off
    failed = finished(manager, plain.id)
    assert failed.status == "failed" and failed.error == "server restarted while the task was running"
    again = finished(manager, rerun.id)
    assert again.status == "succeeded" and again.result == {"n": 6}


def test_server_graceful_close_hands_tasks_over(redis_store: TaskStore) -> None:
    def loop(params: dict[str, Any], ctx: TaskContext) -> str:
        while True:
            ctx.cancel.raise_if_cancelled()
            time.sleep(0.01)

    first = TaskManager(redis_store, tick_s=0.02, max_workers=2)
    first.register_handler("idem", loop)
    first.start()
    plain = first.submit("plain", {}, lambda ctx: loop({}, ctx)).id
    idem = first.submit("idem", {}, lambda ctx: loop({}, ctx), idempotent=True).id
    waiting = first.submit("plain", {}, lambda ctx: "never runs").id
    wait_until(lambda: first.get(plain).status == first.get(idem).status == "running", "both running")
    first.close(wait_s=2)
    assert redis_store.get(plain).status == "failed"  # type: ignore[union-attr]
    assert redis_store.get(plain).error == "server shut down while the task was running"  # type: ignore[union-attr]
    assert redis_store.get(waiting).error == "server shut down while the task was queued"  # type: ignore[union-attr]
    assert redis_store.get(idem).status == "queued"  # type: ignore[union-attr]

    second = TaskManager(redis_store, tick_s=0.02)
    second.register_handler("idem", lambda params, ctx: "second run")
    second.start()
    try:
        assert finished(second, idem).result == "second run"
    finally:
        second.close(wait_s=1)


def test_server_cancelled_error_inside_work_means_cancelled(managers: list[TaskManager]) -> None:
    manager = TaskManager(MemoryTaskStore()).start()
    managers.append(manager)

    def gives_up(ctx: TaskContext) -> None:
        raise CancelledError("stopped by the work itself")

    info = finished(manager, manager.submit("k", {}, gives_up).id)
    assert info.status == "cancelled"


def test_server_redis_throughput(redis_store: TaskStore, managers: list[TaskManager]) -> None:
    """Not a speed assertion: prints tasks/s for the report and checks none is lost."""
    manager = TaskManager(redis_store, max_workers=4).start()
    managers.append(manager)
    n = 300
    started = time.perf_counter()
    ids = [manager.submit("noop", {"i": i}, lambda ctx: ctx.task_id).id for i in range(n)]
    wait_until(lambda: all(t.status == "succeeded" for t in manager.list_tasks(limit=n)), "all tasks")
    elapsed = time.perf_counter() - started
    assert {t.result for t in manager.list_tasks(limit=n)} == set(ids)
    print(f"redis store: {n} tasks submitted and finished in {elapsed:.2f} s = {n / elapsed:.0f} tasks/s")


class FlakyStore(MemoryTaskStore):
    """Fails the first writes of a finished state, like Redis restarting under the server."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def transition(self, task_id: str, to: Any, **kwargs: Any) -> TaskInfo | None:
        if to in FINISHED and self.failures > 0:
            self.failures -= 1
            raise ConnectionError("store unavailable")
        return super().transition(task_id, to, **kwargs)


def test_server_final_state_survives_a_store_outage(managers: list[TaskManager]) -> None:
    manager = TaskManager(FlakyStore(failures=2)).start()
    managers.append(manager)
    info = finished(manager, manager.submit("k", {}, lambda ctx: 42).id)
    assert info.status == "succeeded" and info.result == 42


@pytest.mark.parametrize("idempotent", [False, True])
def test_a_second_manager_in_the_same_process_leaves_a_live_siblings_tasks_alone(
        redis_url: str, redis_store: TaskStore, managers: list[TaskManager], idempotent: bool) -> None:
    """Two managers in one process sharing one Redis (two apps, a test suite): the second's start and
    heartbeats once took the first — same host, same pid — for a dead predecessor, and failed its
    running task ("server restarted …") or re-ran it, while the first was still running it."""
    first = TaskManager(redis_store, tick_s=0.02)
    first.register_handler("steps", lambda params, ctx: "re-run")
    first.start()
    managers.append(first)
    release = threading.Event()

    def work(ctx: TaskContext) -> str:
        while not release.wait(0.01):
            ctx.cancel.raise_if_cancelled("work")
        return "first run"

    task_id = first.submit("steps", {}, work, idempotent=idempotent).id
    wait_until(lambda: first.get(task_id).status == "running", "running")
    second = TaskManager(open_task_store(redis_url, ttl_s=3600), tick_s=0.02, heartbeat_s=0.05)
    second.register_handler("steps", lambda params, ctx: "re-run by the second")
    second.start()
    managers.append(second)
    assert second.recover_orphans() == 0  # what each of its heartbeats does
    time.sleep(0.3)  # several of the second's heartbeats (0.05 s) while the first still runs the task
    assert first.get(task_id).status == "running", first.get(task_id)
    release.set()
    info = finished(first, task_id)
    assert info.status == "succeeded" and info.result == "first run", info


def test_a_closed_manager_of_this_process_is_recovered_at_once(redis_store: TaskStore,
                                                                managers: list[TaskManager]) -> None:
    """The other side of the rule: a record with this process's pid whose manager is not running here
    (a restarted container reuses pid 1) is dead at once, not only after its heartbeat TTL."""
    import os
    import socket

    ghost = InstanceRecord("ghost-" + uuid.uuid4().hex[:6], socket.gethostname(), os.getpid())
    redis_store.heartbeat(ghost, ttl_s=3600)
    orphan = TaskInfo(id=uuid.uuid4().hex, kind="k", created_at=datetime.now(UTC))
    redis_store.create(orphan, owner=ghost.instance_id)
    redis_store.transition(orphan.id, "running", expect={"queued"})
    manager = TaskManager(redis_store, tick_s=0.02).start()
    managers.append(manager)
    info = manager.get(orphan.id)
    assert info.status == "failed" and info.error == "server restarted while the task was running", info


class FinishesFirstStore(MemoryTaskStore):
    """A store where the task ends just before the cancel request reaches it (the race, made certain)."""

    def request_cancel(self, task_id: str, *, finished_at: str) -> TaskInfo | None:
        self.transition(task_id, "succeeded", expect={"queued", "running"}, finished_at=finished_at, result=1)
        return super().request_cancel(task_id, finished_at=finished_at)


def test_cancelling_a_task_that_ends_meanwhile_is_a_conflict(managers: list[TaskManager]) -> None:
    """A cancel that lost the race to the task's end answered 200 with a ``succeeded`` task, as if it had
    been honoured; cancelling a finished task is a 409, whenever it finished."""
    from cde_server.tasks.manager import TaskConflictError

    store = FinishesFirstStore()
    manager = TaskManager(store).start()
    managers.append(manager)
    release = threading.Event()
    task_id = manager.submit("k", {}, lambda ctx: release.wait(30)).id
    wait_until(lambda: manager.get(task_id).status == "running", "running")
    with pytest.raises(TaskConflictError, match="already succeeded"):
        manager.cancel(task_id)
    release.set()


def test_a_running_task_the_store_forgot_is_recorded_again_and_finishes(
        redis_store: TaskStore, managers: list[TaskManager]) -> None:
    """Redis restarted without persistence mid-run: the owner took the missing record for a takeover,
    stopped the work ("now run by another instance") and the task vanished (404) though nobody else
    had it. The owner records it again and its end lands."""
    manager = TaskManager(redis_store, tick_s=0.02)
    manager.start()
    managers.append(manager)
    release = threading.Event()

    def work(ctx: TaskContext) -> str:
        while not release.wait(0.01):
            ctx.cancel.raise_if_cancelled("work")
            ctx.progress(0.5, "half way")
        return "done"

    task_id = manager.submit("k", {"n": 1}, work).id
    wait_until(lambda: manager.get(task_id).progress == 0.5, "progress")
    redis_store.wipe()  # type: ignore[attr-defined]  # every key of this store: a Redis that forgot all
    wait_until(lambda: redis_store.get(task_id) is not None, "the owner records the task again")
    again = manager.get(task_id)
    assert again.status == "running" and again.kind == "k" and again.params == {"n": 1}, again
    release.set()
    info = finished(manager, task_id)
    assert info.status == "succeeded" and info.result == "done", info


def test_a_queued_task_the_store_forgot_still_runs(redis_store: TaskStore, managers: list[TaskManager]) -> None:
    """The same, for a task still queued behind another: it was never run and vanished."""
    manager = TaskManager(redis_store, tick_s=0.02, max_workers=1)
    manager.start()
    managers.append(manager)
    release = threading.Event()
    blocker = manager.submit("block", {}, lambda ctx: release.wait(30)).id
    wait_until(lambda: manager.get(blocker).status == "running", "the blocker running")
    queued = manager.submit("k", {"n": 2}, lambda ctx: "ran").id
    assert manager.get(queued).status == "queued"
    redis_store.wipe()  # type: ignore[attr-defined]
    release.set()
    wait_until(lambda: (t := redis_store.get(queued)) is not None and t.status in FINISHED, "the queued task's end")
    info = manager.get(queued)
    assert info.status == "succeeded" and info.result == "ran" and info.params == {"n": 2}, info
