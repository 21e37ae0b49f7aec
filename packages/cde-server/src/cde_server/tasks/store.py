"""The storage contract behind the task manager.

A store persists :class:`~cde_core.tasks.TaskInfo` records plus the id of the server instance that
owns each unfinished task. Every status change is a compare-and-set (:meth:`TaskStore.transition`):
the change happens only if the task is still in one of the expected states (and, when given, still
owned by the expected instance), so a timeout, a cancel and a finishing worker racing each other
resolve to exactly one outcome, also across several server instances sharing one Redis.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from cde_core.tasks import TaskInfo, TaskStatus


@dataclass(frozen=True)
class Orphan:
    """An unfinished task and the instance that owned it."""

    info: TaskInfo
    owner: str


@dataclass(frozen=True)
class InstanceRecord:
    """A live server instance as advertised by its heartbeat."""

    instance_id: str
    host: str
    pid: int


class TaskStore(Protocol):
    """Persistence for tasks; implementations: MemoryTaskStore, RedisTaskStore."""

    name: str

    def ping(self) -> None:
        """Raise if the store is unreachable (used by the health check)."""
        ...

    def create(self, info: TaskInfo, *, owner: str) -> None: ...

    def get(self, task_id: str) -> TaskInfo | None: ...

    def list_tasks(self, *, status: TaskStatus | None = None, kind: str | None = None,
             limit: int = 100) -> list[TaskInfo]:
        """Newest first."""
        ...

    def transition(self, task_id: str, to: TaskStatus, *, expect: Collection[TaskStatus],
                   expect_owner: str | None = None, owner: str | None = None,
                   expect_lease: str | None = None, lease: str | None = None,
                   **changes: Any) -> TaskInfo | None:
        """Atomically move the task to ``to`` and apply ``changes`` if its status is in ``expect``
        (and its owner is ``expect_owner``, its lease ``expect_lease`` when given; ``owner`` / ``lease``
        set new ones); returns the new state, or None if the task is unknown or was not in an expected
        state."""
        ...

    def set_progress(self, task_id: str, progress: float, message: str, *, lease: str | None = None) -> bool:
        """Record progress of a running task; False (and no write) if it is not running, or when
        ``lease`` is given and the task runs under another lease (it was taken over)."""
        ...

    def leases(self, task_ids: Iterable[str]) -> dict[str, str | None]:
        """The current lease (fencing token) of each task: a new one is set by every claim."""
        ...

    def request_cancel(self, task_id: str, *, finished_at: str) -> TaskInfo | None:
        """Cancel a queued task at once or flag a running one; returns the state afterwards."""
        ...

    def cancel_requested(self, task_ids: Iterable[str]) -> set[str]:
        """Which of these running tasks have a cancel request pending."""
        ...

    def unfinished(self) -> list[Orphan]:
        """Every queued or running task with its owner (for restart recovery)."""
        ...

    def heartbeat(self, record: InstanceRecord, ttl_s: float) -> None: ...

    def instance(self, instance_id: str) -> InstanceRecord | None:
        """The instance's last heartbeat, or None once it expired."""
        ...

    def drop_instance(self, instance_id: str) -> None: ...

    def close(self) -> None: ...
