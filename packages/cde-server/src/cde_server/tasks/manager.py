"""The task manager: runs submitted work in bounded pools and keeps its state in a TaskStore.

One manager per server process. It satisfies :class:`cde_core.tasks.TaskSubmitter` and is what
``app.state.tasks`` holds. A maintenance thread ticks a few times a second to flush throttled
progress, enforce timeouts, forward cancel requests made through another instance, refresh this
instance's heartbeat, and recover tasks orphaned by dead instances (so none stays running forever).
"""

from __future__ import annotations

import functools
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from loguru import logger
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from cde_core.errors import CancelledError, CdeError, NotFoundError
from cde_core.progress import CancelToken, monotonic
from cde_core.tasks import TaskContext, TaskFunction, TaskHandler, TaskInfo, TaskPool, TaskStatus
from cde_server.tasks.liveness import announce_gone, announce_live, instance_is_dead
from cde_server.tasks.outage import StoreOutage
from cde_server.tasks.process_runner import run_in_process
from cde_server.tasks.store import InstanceRecord, TaskStore


class TaskConflictError(CdeError):
    """The task is in a state that does not allow the request (e.g. cancelling a finished task)."""

    title = "conflict"
    http_status = 409


def _now() -> str:
    return datetime.now(UTC).isoformat()


class _LeaseToken(CancelToken):
    """The run's cancel token, which also stops the run once its lease is gone.

    Work polls ``raise_if_cancelled`` between units — before it commits the next one. Besides the
    flag, that poll asks the store (at most every ``check_s``, never while the store is down) whether
    this run still holds the task's lease: a server frozen past its heartbeat whose task was taken
    over by another instance stops at its next poll instead of writing the same partitions twice.
    """

    def __init__(self, still_ours: Callable[[], bool | None], check_s: float = 0.2) -> None:
        super().__init__()
        self._still_ours = still_ours
        self._check_s = check_s
        self._checked = time.monotonic()

    def raise_if_cancelled(self, where: str | None = None) -> None:
        if not self._event.is_set() and time.monotonic() - self._checked >= self._check_s:
            self._checked = time.monotonic()
            if self._still_ours() is False:
                self.cancel()
        super().raise_if_cancelled(where)


@dataclass
class _Local:
    """What this instance knows about a task it runs (never persisted). ``lease`` is this run's
    fencing token: the claim writes it to the task, every later write of this run requires it."""

    task_id: str
    run: TaskFunction
    pool: TaskPool
    timeout_s: float | None
    token: CancelToken = field(default_factory=CancelToken)
    lease: str = field(default_factory=lambda: _new_lease())
    started: bool = False
    fenced: bool = False
    deadline: float | None = None
    latest: tuple[float, str] | None = None
    dirty: bool = False
    last_write: float = 0.0
    timed_out: bool = False
    shutdown: bool = False
    #: the task as this run last knew it, to record it again if the store lost it (a Redis restarted
    #: without persistence forgets running tasks; their owner does not)
    info: TaskInfo | None = None


class TaskManager:
    """Bounded thread/process pools + a store; see the module docstring."""

    def __init__(self, store: TaskStore, *, max_workers: int = 4, process_workers: int = 2,
                 default_timeout_s: float | None = None, heartbeat_s: float = 5.0,
                 instance_ttl_s: float = 30.0, tick_s: float = 0.2, progress_interval_s: float = 0.1,
                 kill_grace_s: float = 10.0) -> None:
        self.store = store
        self.instance_id = uuid.uuid4().hex[:12]
        self.default_timeout_s = default_timeout_s
        self.heartbeat_s = heartbeat_s
        self.instance_ttl_s = max(instance_ttl_s, 2 * heartbeat_s)
        self.tick_s = tick_s
        self.progress_interval_s = progress_interval_s
        self.kill_grace_s = kill_grace_s
        self._threads = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="cde-task")
        self._processes = ThreadPoolExecutor(max_workers=process_workers, thread_name_prefix="cde-task-proc")
        self._handlers: dict[str, tuple[TaskHandler, TaskPool]] = {}
        self._local: dict[str, _Local] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._maintenance: threading.Thread | None = None
        self._record = InstanceRecord(self.instance_id, socket.gethostname(), os.getpid())
        self.outage = StoreOutage(store.name)
        #: tasks whose end this instance could not record yet, since when (monotonic)
        self._unreported: dict[str, float] = {}
        self._silenced = False
        #: applied to task errors and messages before they are stored (the app makes lake paths relative)
        self.public_text: Callable[[str], str] = str

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> TaskManager:
        """Announce this instance, recover orphans, start the maintenance thread (idempotent)."""
        if self._maintenance is not None:
            return self
        announce_live(self.instance_id)
        self.store.heartbeat(self._record, self.instance_ttl_s)
        self.recover_orphans()
        self._maintenance = threading.Thread(target=self._maintain, name="cde-task-maintenance", daemon=True)
        self._maintenance.start()
        return self

    def close(self, *, wait_s: float = 5.0) -> None:
        """Ask running work to stop, wait a little, then hand the rest over (see ``_abandon``)."""
        self._stop.set()
        with self._lock:
            local = list(self._local.values())
        for entry in local:
            entry.shutdown = True
            entry.token.cancel()
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            with self._lock:
                if not self._local:
                    break
            time.sleep(0.05)
        self._abandon()
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._processes.shutdown(wait=False, cancel_futures=True)
        if self._maintenance is not None:
            self._maintenance.join(timeout=2)
        announce_gone(self.instance_id)
        self.store.drop_instance(self.instance_id)

    def _abandon(self) -> None:
        """On shutdown: tasks this instance still owns are failed, or left queued for re-run when
        idempotent with a handler (the next instance adopts them once this one's heartbeat is gone)."""
        for orphan in self.store.unfinished():
            if orphan.owner != self.instance_id:
                continue
            self._recover_one(orphan.info, orphan.owner, reason="server shut down while the task was "
                              f"{orphan.info.status}", rerun_here=False)

    # -- TaskSubmitter -------------------------------------------------------------------------
    def register_handler(self, kind: str, handler: TaskHandler, *, pool: TaskPool = "thread") -> None:
        self._handlers[kind] = (handler, pool)

    def submit(self, kind: str, params: BaseModel | dict[str, Any], run: TaskFunction, *,
               idempotent: bool = False, timeout_s: float | None = None,
               pool: TaskPool = "thread") -> TaskInfo:
        if self._stop.is_set():
            raise TaskConflictError("the server is shutting down", hint="retry against a running server")
        raw = params.model_dump(mode="json") if isinstance(params, BaseModel) else to_jsonable_python(params)
        timeout = timeout_s if timeout_s is not None else self.default_timeout_s
        info = TaskInfo(id=uuid.uuid4().hex, kind=kind, params=raw, idempotent=idempotent, timeout_s=timeout,
                        created_at=datetime.now(UTC))
        self.store.create(info, owner=self.instance_id)
        self._enqueue(_Local(info.id, run, pool, timeout, info=info))
        return info

    def get(self, task_id: str) -> TaskInfo:
        info = self.store.get(task_id)
        if info is None:
            raise NotFoundError(f"no task '{task_id}'", hint="finished tasks are kept for server.task_ttl_s")
        return info

    def list_tasks(self, *, status: TaskStatus | None = None, kind: str | None = None,
             limit: int = 100) -> list[TaskInfo]:
        return self.store.list_tasks(status=status, kind=kind, limit=limit)

    def cancel(self, task_id: str) -> TaskInfo:
        before = self.get(task_id)
        if before.finished:
            raise TaskConflictError(f"task '{task_id}' already {before.status}")
        info = self.store.request_cancel(task_id, finished_at=_now())
        if info is None:
            raise NotFoundError(f"no task '{task_id}'")
        if info.finished and info.status != "cancelled":  # it ended between the look and the request
            raise TaskConflictError(f"task '{task_id}' already {info.status}")
        with self._lock:
            entry = self._local.get(task_id)
        if entry is not None:
            entry.token.cancel()
        return info

    # -- running -------------------------------------------------------------------------------
    def _enqueue(self, entry: _Local) -> None:
        entry.token = _LeaseToken(functools.partial(self._holds_lease, entry))
        with self._lock:
            self._local[entry.task_id] = entry
        pool = self._processes if entry.pool == "process" else self._threads
        pool.submit(self._execute, entry)

    def _execute(self, entry: _Local) -> None:
        try:
            self._execute_claimed(entry)
        except Exception:  # the store failed: never let a worker die silently
            logger.exception("task {} could not be run", entry.task_id)
        finally:
            with self._lock:
                self._local.pop(entry.task_id, None)

    def _execute_claimed(self, entry: _Local) -> None:
        if self._stop.is_set():  # shutting down: leave it queued for _abandon
            return
        claimed = self.store.transition(entry.task_id, "running", expect={"queued"},
                                        expect_owner=self.instance_id, lease=entry.lease, started_at=_now(),
                                        message="started")
        if claimed is None and entry.info is not None and self.store.get(entry.task_id) is None:
            # the store forgot it while queued (Redis restarted without persistence): record it again
            self.store.create(entry.info.model_copy(update={"status": "queued"}), owner=self.instance_id)
            logger.warning("task {} was missing from the {} task store (restarted without persistence?); "
                           "this instance, which queued it, recorded it again", entry.task_id, self.store.name)
            claimed = self.store.transition(entry.task_id, "running", expect={"queued"},
                                            expect_owner=self.instance_id, lease=entry.lease, started_at=_now(),
                                            message="started")
        if claimed is None:  # cancelled or failed while queued
            return
        entry.started, entry.info = True, claimed
        if entry.timeout_s is not None:
            entry.deadline = time.monotonic() + entry.timeout_s
        progress = self._progress_callback(entry)
        status: TaskStatus = "succeeded"
        changes: dict[str, Any] = {}
        try:
            if entry.pool == "process":
                result = run_in_process(entry.run, entry.task_id, progress, entry.token,
                                        kill_grace_s=self.kill_grace_s)
            else:
                result = entry.run(TaskContext(task_id=entry.task_id, progress=progress, cancel=entry.token))
            changes = {"result": self._public_result(_jsonable(result)), "progress": 1.0}
        except CancelledError as exc:
            status, changes = "cancelled", {"error": str(exc)}
        except BaseException as exc:  # SystemExit from a plugin's object too: never a task "running" for ever
            if entry.token.cancelled and not entry.timed_out:
                status, changes = "cancelled", {"error": f"cancelled ({_describe(exc)})"}
            else:
                status, changes = "failed", {"error": _describe(exc)}
                if not isinstance(exc, CdeError):
                    logger.opt(exception=exc).error("task {} ({}) failed", entry.task_id, claimed.kind)
        if entry.shutdown and status != "succeeded":
            return  # stopped by shutdown, not by a user: _abandon fails or re-queues it
        if entry.fenced:
            logger.warning("task {} was taken over by another instance; this run stopped and records nothing",
                           entry.task_id)
            return
        message = entry.latest[1] if entry.latest else ("done" if status == "succeeded" else "")
        if "error" in changes:
            changes["error"] = self.public_text(changes["error"])
        self._finish(entry, status, message=message, **changes)

    def _finish(self, entry: _Local, status: TaskStatus, **changes: Any) -> None:
        """The final write. The outcome is kept here and retried with back-off through a store outage
        for as long as this process lives (a task whose outcome was dropped would read ``running`` for
        ever); it is written only while this run holds the task's lease."""
        finished_at = _now()
        try:
            while True:
                try:
                    done = self.store.transition(entry.task_id, status, expect={"running"},
                                                 expect_lease=entry.lease, finished_at=finished_at, **changes)
                    self.outage.recovered()
                    if done is None and self._restore_record(entry):
                        continue  # the store had lost the task: record its end on the restored record
                    return
                except Exception as exc:
                    self._unreported.setdefault(entry.task_id, time.monotonic())
                    delay = self.outage.failed(exc, f"recording the end of task {entry.task_id}")
                    if self._stop.wait(delay):
                        logger.error("task {} ended {} but the server stopped before the task store answered; "
                                     "the next instance recovers it", entry.task_id, status)
                        return
        finally:
            self._unreported.pop(entry.task_id, None)

    def _public_result(self, value: Any) -> Any:
        """The result with :attr:`public_text` applied to every string in it (run folders, written
        files): a client reads lake-relative paths in results as in errors."""
        if isinstance(value, str):
            return self.public_text(value)
        if isinstance(value, list):
            return [self._public_result(item) for item in value]
        if isinstance(value, dict):
            return {key: self._public_result(item) for key, item in value.items()}
        return value

    def _may_heartbeat(self) -> bool:
        """False while the end of a task has gone unrecorded for longer than the heartbeat TTL: the
        instance then lets its heartbeat lapse, so another instance recovers its tasks as a dead
        one's (the recovery's new lease fences out the outcome this one still holds)."""
        now = time.monotonic()
        stuck = sorted(t for t, since in list(self._unreported.items()) if now - since > self.instance_ttl_s)
        if stuck and not self._silenced:
            logger.warning("cannot record the end of task(s) {} for over {:g} s: this instance stops its "
                           "heartbeat so another instance recovers them", ", ".join(stuck), self.instance_ttl_s)
        self._silenced = bool(stuck)
        return not stuck

    def _progress_callback(self, entry: _Local) -> Any:
        def progress(fraction: float, message: str) -> None:
            if fraction != fraction:  # NaN
                return
            entry.latest = (min(max(float(fraction), 0.0), 1.0), self.public_text(str(message))[:500])
            entry.dirty = True
            if time.monotonic() - entry.last_write >= self.progress_interval_s:
                self._flush_progress(entry)

        return monotonic(progress)  # a task's progress never goes back and reaches 1.0 once

    def _flush_progress(self, entry: _Local) -> None:
        """Write the latest progress; called by the work (throttled) and by the tick (catch-up), so a
        task that goes quiet after a dropped update still shows its latest progress."""
        if entry.dirty and entry.latest is not None and not entry.fenced:
            entry.dirty = False
            entry.last_write = time.monotonic()
            if self.outage.down:
                entry.dirty = True  # the tick retries once the store answers; the work never waits
                return
            try:
                written = self.store.set_progress(entry.task_id, *entry.latest, lease=entry.lease)
            except Exception as exc:  # best effort: progress never stops the work
                entry.dirty = True
                self.outage.failed(exc, f"writing the progress of task {entry.task_id}")
                return
            self.outage.recovered()
            if not written and self._holds_lease(entry) is False:
                self._lose_lease(entry)

    def _holds_lease(self, entry: _Local) -> bool | None:
        """Does this run still hold the task's lease? None when the store cannot tell right now."""
        if entry.fenced:
            return False
        if self.outage.down:
            return None
        try:
            lease = self.store.leases([entry.task_id]).get(entry.task_id)
        except Exception as exc:
            self.outage.failed(exc, f"checking the lease of task {entry.task_id}")
            return None
        if lease != entry.lease:
            if lease is None and self._restore_record(entry):
                return True
            self._lose_lease(entry)
            return False
        return True

    def _restore_record(self, entry: _Local) -> bool:
        """Record a task this run holds again when the store no longer has it at all (a Redis restarted
        without persistence): clients read it again and its end is recorded, instead of the run taking
        the missing record for a takeover and stopping, and the task vanishing (404). A record that
        exists under another lease is a takeover, never restored. True when restored."""
        if entry.info is None or entry.fenced or self.store.get(entry.task_id) is not None:
            return False
        progress, message = entry.latest or (entry.info.progress, entry.info.message)
        self.store.create(entry.info.model_copy(update={"status": "running", "progress": progress,
                                                        "message": message}), owner=self.instance_id)
        self.store.transition(entry.task_id, "running", expect={"running"}, lease=entry.lease)
        logger.warning("task {} was missing from the {} task store (restarted without persistence?); this "
                       "instance, which runs it, recorded it again", entry.task_id, self.store.name)
        return True

    def _lose_lease(self, entry: _Local) -> None:
        """Another instance took the task over: stop this run, write nothing more for it."""
        if not entry.fenced:
            entry.fenced = True
            entry.token.cancel()
            logger.warning("task {} is now run by another instance; stopping this run", entry.task_id)

    # -- maintenance ---------------------------------------------------------------------------
    def _maintain(self) -> None:
        last_beat = time.monotonic()
        wait = self.tick_s
        while not self._stop.wait(wait):
            try:
                if self.outage.down:  # a tick may touch no key at all: ask the store itself
                    self.store.ping()
                    self.outage.recovered()
                self._tick()
                if time.monotonic() - last_beat >= self.heartbeat_s:
                    last_beat = time.monotonic()
                    if self._may_heartbeat():
                        self.store.heartbeat(self._record, self.instance_ttl_s)
                    self.recover_orphans()
                wait = self.tick_s
            except Exception as exc:  # a Redis outage must not end maintenance, nor flood the log
                if not _is_store_error(exc):
                    logger.exception("task maintenance failed; retrying")
                wait = max(self.tick_s, self.outage.failed(exc, "maintaining tasks"))

    def _tick(self) -> None:
        with self._lock:
            local = list(self._local.values())
        now = time.monotonic()
        for entry in local:
            if entry.dirty and now - entry.last_write >= self.progress_interval_s:
                self._flush_progress(entry)
            if entry.deadline is not None and now >= entry.deadline and not entry.timed_out:
                entry.timed_out = True
                entry.token.cancel()
                self.store.transition(entry.task_id, "failed", expect={"running"}, expect_lease=entry.lease,
                                      finished_at=_now(), error=f"timed out after {entry.timeout_s:g} s")
        claimed = [e for e in local if e.started and not e.fenced]
        leases = self.store.leases([e.task_id for e in claimed])
        for entry in claimed:  # taken over while this instance was frozen or cut off: stop the run
            lease = leases.get(entry.task_id)
            if lease != entry.lease and not (lease is None and self._restore_record(entry)):
                self._lose_lease(entry)
        running = [e.task_id for e in local if not e.token.cancelled]
        for task_id in self.store.cancel_requested(running):
            with self._lock:
                flagged = self._local.get(task_id)
            if flagged is not None:
                flagged.token.cancel()

    def recover_orphans(self) -> int:
        """Fail (or re-queue) unfinished tasks whose owner is dead; returns how many were handled."""
        handled = 0
        verdicts: dict[str, bool] = {}
        for orphan in self.store.unfinished():
            if orphan.owner == self.instance_id:
                continue
            if orphan.owner not in verdicts:
                verdicts[orphan.owner] = instance_is_dead(self.store, orphan.owner, self._record)
            if verdicts[orphan.owner]:
                handled += self._recover_one(orphan.info, orphan.owner, reason="server restarted while the "
                                             f"task was {orphan.info.status}", rerun_here=True)
        return handled

    def _recover_one(self, info: TaskInfo, owner: str, *, reason: str, rerun_here: bool) -> int:
        handler = self._handlers.get(info.kind)
        if info.idempotent and handler is not None:
            if not rerun_here:  # shutting down: leave it queued under our (soon dead) id
                moved = self.store.transition(info.id, "queued", expect={"queued", "running"},
                                              expect_owner=owner, lease=_new_lease(),
                                              message=f"{reason}; will be re-run")
                return int(moved is not None)
            # a new lease fences the old run out at once: its next progress write or poll stops it
            moved = self.store.transition(info.id, "queued", expect={"queued", "running"}, expect_owner=owner,
                                          owner=self.instance_id, lease=_new_lease(), progress=0.0, started_at=None,
                                          cancel_requested=False, message=f"re-queued: {reason}")
            if moved is not None:
                run_handler, pool = handler
                # a partial of a module-level handler stays picklable for pool="process"
                self._enqueue(_Local(info.id, functools.partial(run_handler, dict(info.params)), pool,
                                     info.timeout_s, info=info))
                logger.info("re-queued idempotent task {} ({})", info.id, info.kind)
            return int(moved is not None)
        failed = self.store.transition(info.id, "failed", expect={"queued", "running"}, expect_owner=owner,
                                       lease=_new_lease(), finished_at=_now(), error=reason)
        if failed is not None:
            logger.warning("task {} ({}) marked failed: {}", info.id, info.kind, reason)
        return int(failed is not None)


def _new_lease() -> str:
    return uuid.uuid4().hex


def _is_store_error(exc: BaseException) -> bool:
    """A failure of the store's connection (Redis down or paused), as opposed to a bug."""
    import redis

    return isinstance(exc, redis.ConnectionError | redis.TimeoutError | ConnectionError | TimeoutError)


def _describe(exc: BaseException) -> str:
    from cde_core.object_store import store_error, store_outage

    if isinstance(exc, CdeError):
        return str(store_outage(exc) or exc)  # a stage's wrapped store failure is the store's

    remote = store_error(exc)
    if remote is not None:
        return str(remote)
    from cde_core.lake import unreadable_parquet

    bad_file = unreadable_parquet(exc)
    if bad_file is not None:
        return str(bad_file)
    from cde_core.plugin_faults import plugin_fault

    fault = plugin_fault(exc)  # a third-party plugin's code failed: name it and its distribution
    if fault is not None:
        return str(fault)
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _jsonable(result: Any) -> Any:
    """Results are persisted as JSON; anything else is a bug in the task, reported as its failure."""
    try:
        if isinstance(result, BaseModel):
            result = result.model_dump(mode="json")
        value = to_jsonable_python(result)
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise CdeError(f"task result is not JSON-serialisable: {exc}",
                       hint="return a small reference (a run id, a path in the lake)") from exc
    return value
