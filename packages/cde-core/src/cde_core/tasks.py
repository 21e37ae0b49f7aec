"""The task contract plugins use to run long work from API routes.

The server's task manager implements :class:`TaskSubmitter` and exposes it as ``app.state.tasks``.
A plugin route submits ``run(context)``; the manager records status, progress and result, and
handles cancellation, timeouts and restarts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from cde_core.progress import CancelToken, ProgressCallback

TaskStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
FINISHED: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


class TaskInfo(BaseModel):
    """The public view of a task (what the API returns and the stores persist)."""

    id: str
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)
    status: TaskStatus = "queued"
    progress: float = Field(0.0, ge=0.0, le=1.0)
    message: str = ""
    result: Any = None
    error: str | None = None
    idempotent: bool = False
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class TaskContext(BaseModel):
    """What a running task receives: its id, a progress callback and a cancel token."""

    model_config = {"arbitrary_types_allowed": True}

    task_id: str
    progress: ProgressCallback
    cancel: CancelToken


TaskFunction = Callable[[TaskContext], Any]


@runtime_checkable
class TaskSubmitter(Protocol):
    def submit(self, kind: str, params: BaseModel, run: TaskFunction, *, idempotent: bool = False,
               timeout_s: float | None = None) -> TaskInfo: ...

    def get(self, task_id: str) -> TaskInfo: ...
