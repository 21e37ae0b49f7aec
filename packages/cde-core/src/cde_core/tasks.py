"""The task contract plugins use to run long work from API routes.

The server's task manager implements :class:`TaskSubmitter` and exposes it as ``app.state.tasks``.
A plugin route submits ``run(context)``; the manager records status, progress and result, and
handles cancellation, timeouts and restarts::

    @router.post("/backtests", status_code=202, response_model=TaskInfo)
    def start(request: Request, body: BacktestRequest) -> TaskInfo:
        def run(ctx: TaskContext) -> dict[str, str]:
            for i, step in enumerate(steps):
                ctx.cancel.raise_if_cancelled()       # stop between units of work
                step()
                ctx.progress((i + 1) / len(steps), step.name)
            return {"run_id": run_id}                  # small, JSON-serialisable: a result *reference*
        return request.app.state.tasks.submit("backtest", body, run)

Rules for ``run``: poll ``ctx.cancel`` between units of work (a task is never killed mid-write,
except a ``pool="process"`` task that ignores cancellation for longer than the grace period);
report progress as a fraction in [0, 1]; return something JSON-serialisable and small (store large
results in the lake and return their id); raise :class:`cde_core.errors.CdeError` for failures a
user can act on. ``pool="process"`` runs ``run`` in a child process, so it must be picklable (a
module-level function or a ``functools.partial`` of one).

Restart safety: when the server dies, its queued and running tasks are marked failed by the next
start — unless they were submitted with ``idempotent=True`` and their kind has a handler
(:meth:`TaskSubmitter.register_handler`), in which case they are run again from their params.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from cde_core.progress import CancelToken, ProgressCallback

TaskStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
FINISHED: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
TaskPool = Literal["thread", "process"]


class TaskInfo(BaseModel):
    """The public view of a task (what the API returns and the stores persist)."""

    id: str = Field(description="task id (opaque)")
    kind: str = Field(description="what the task does, e.g. 'backtest' or 'download'")
    params: dict[str, Any] = Field(default_factory=dict, description="the validated request it was submitted "
                                   "with")
    status: TaskStatus = "queued"
    progress: float = Field(0.0, ge=0.0, le=1.0, description="fraction done, 0..1")
    message: str = Field("", description="latest progress message")
    result: Any = Field(None, description="JSON result (a reference such as a run id) once succeeded")
    error: str | None = Field(None, description="why the task failed or was cancelled")
    idempotent: bool = Field(False, description="safe to run again after a server restart")
    timeout_s: float | None = Field(None, description="per-task timeout in seconds, counted from start")
    cancel_requested: bool = Field(False, description="a cancel was requested while the task was running")
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


class TaskContext(BaseModel):
    """What a running task receives: its id, a progress callback and a cancel token."""

    model_config = {"arbitrary_types_allowed": True}

    task_id: str
    progress: ProgressCallback
    cancel: CancelToken


TaskFunction = Callable[[TaskContext], Any]

#: Re-runs a task of one kind from its stored params (used to re-queue idempotent tasks after a restart).
TaskHandler = Callable[[dict[str, Any], TaskContext], Any]


@runtime_checkable
class TaskSubmitter(Protocol):
    """Runs long work as tasks; ``app.state.tasks`` in the API."""

    def submit(self, kind: str, params: BaseModel | dict[str, Any], run: TaskFunction, *,
               idempotent: bool = False, timeout_s: float | None = None,
               pool: TaskPool = "thread") -> TaskInfo:
        """Queue ``run(context)``; returns at once with the queued task (answer it with HTTP 202)."""
        ...

    def get(self, task_id: str) -> TaskInfo:
        """The task's current state; raises :class:`cde_core.errors.NotFoundError` if unknown."""
        ...

    def cancel(self, task_id: str) -> TaskInfo:
        """Cancel a queued task at once, or ask a running one to stop at its next cancel check."""
        ...

    def register_handler(self, kind: str, handler: TaskHandler, *, pool: TaskPool = "thread") -> None:
        """Let idempotent tasks of ``kind`` be re-run from their params after a server restart."""
        ...
