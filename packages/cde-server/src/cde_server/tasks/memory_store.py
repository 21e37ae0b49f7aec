"""In-memory task store: the default, no set-up; tasks vanish with the process."""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Iterable
from typing import Any

from cde_core.tasks import FINISHED, TaskInfo, TaskStatus
from cde_server.tasks.store import InstanceRecord, Orphan


class MemoryTaskStore:
    """Tasks in a dict under one lock; finished tasks are dropped ``ttl_s`` after they finish."""

    name = "memory"

    def __init__(self, *, ttl_s: float = 7 * 24 * 3600) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskInfo] = {}
        self._owners: dict[str, str] = {}
        self._leases: dict[str, str] = {}
        self._expires: dict[str, float] = {}
        self._instances: dict[str, tuple[InstanceRecord, float]] = {}

    def ping(self) -> None:
        """Always reachable."""

    def _purge(self) -> None:
        now = time.monotonic()
        for task_id in [t for t, at in self._expires.items() if at <= now]:
            self._tasks.pop(task_id, None)
            self._owners.pop(task_id, None)
            self._leases.pop(task_id, None)
            self._expires.pop(task_id, None)

    def create(self, info: TaskInfo, *, owner: str) -> None:
        with self._lock:
            self._tasks[info.id] = info
            self._owners[info.id] = owner

    def get(self, task_id: str) -> TaskInfo | None:
        with self._lock:
            self._purge()
            return self._tasks.get(task_id)

    def list_tasks(self, *, status: TaskStatus | None = None, kind: str | None = None,
             limit: int = 100) -> list[TaskInfo]:
        with self._lock:
            self._purge()
            tasks = sorted(self._tasks.values(), key=lambda t: t.created_at, reverse=True)
        return [t for t in tasks if (status is None or t.status == status)
                and (kind is None or t.kind == kind)][:limit]

    def transition(self, task_id: str, to: TaskStatus, *, expect: Collection[TaskStatus],
                   expect_owner: str | None = None, owner: str | None = None,
                   expect_lease: str | None = None, lease: str | None = None,
                   **changes: Any) -> TaskInfo | None:
        with self._lock:
            current = self._tasks.get(task_id)
            if current is None or current.status not in expect:
                return None
            if expect_owner is not None and self._owners.get(task_id) != expect_owner:
                return None
            if expect_lease is not None and self._leases.get(task_id) != expect_lease:
                return None
            if lease is not None:
                self._leases[task_id] = lease
            updated = TaskInfo.model_validate({**current.model_dump(mode="json"), **changes, "status": to})
            self._tasks[task_id] = updated
            if owner is not None:
                self._owners[task_id] = owner
            if to in FINISHED:
                self._expires[task_id] = time.monotonic() + self.ttl_s
            return updated

    def set_progress(self, task_id: str, progress: float, message: str, *, lease: str | None = None) -> bool:
        with self._lock:
            current = self._tasks.get(task_id)
            if current is None or current.status != "running":
                return False
            if lease is not None and self._leases.get(task_id) != lease:
                return False
            self._tasks[task_id] = current.model_copy(update={"progress": progress, "message": message})
            return True

    def request_cancel(self, task_id: str, *, finished_at: str) -> TaskInfo | None:
        with self._lock:
            current = self._tasks.get(task_id)
            if current is None:
                return None
            if current.status == "queued":
                updated = TaskInfo.model_validate({**current.model_dump(mode="json"), "status": "cancelled",
                                                   "error": "cancelled before it started",
                                                   "finished_at": finished_at})
                self._expires[task_id] = time.monotonic() + self.ttl_s
            elif current.status == "running":
                updated = current.model_copy(update={"cancel_requested": True})
            else:
                return current
            self._tasks[task_id] = updated
            return updated

    def leases(self, task_ids: Iterable[str]) -> dict[str, str | None]:
        with self._lock:
            return {t: self._leases.get(t) for t in task_ids}

    def cancel_requested(self, task_ids: Iterable[str]) -> set[str]:
        with self._lock:
            return {t for t in task_ids if t in self._tasks and self._tasks[t].cancel_requested}

    def unfinished(self) -> list[Orphan]:
        with self._lock:
            return [Orphan(t, self._owners.get(t.id, "")) for t in self._tasks.values()
                    if t.status not in FINISHED]

    def heartbeat(self, record: InstanceRecord, ttl_s: float) -> None:
        with self._lock:
            self._instances[record.instance_id] = (record, time.monotonic() + ttl_s)

    def instance(self, instance_id: str) -> InstanceRecord | None:
        with self._lock:
            entry = self._instances.get(instance_id)
        return entry[0] if entry and entry[1] > time.monotonic() else None

    def drop_instance(self, instance_id: str) -> None:
        with self._lock:
            self._instances.pop(instance_id, None)

    def close(self) -> None:
        """Nothing to release."""
