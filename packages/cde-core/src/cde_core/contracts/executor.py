"""Executors run a batch of independent jobs and report progress.

Heavy stages never start threads, processes or cluster tasks themselves: they build a list of
:class:`Job` and hand it to an executor, so the same code runs on one machine or on a Dask cluster.
Jobs must be picklable (a module-level function and plain arguments) to run in processes or on
remote workers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

from cde_core.progress import CancelToken, ProgressCallback


@dataclass(frozen=True)
class Job:
    """One unit of work: ``fn(*args, **kwargs)``; ``key`` names it in progress and errors."""

    key: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __call__(self) -> Any:
        return self.fn(*self.args, **self.kwargs)


@runtime_checkable
class Executor(Protocol):
    """Runs jobs; results come back in the order of the jobs.

    The first failing job's exception is raised after the remaining queued jobs are cancelled.
    ``progress(fraction, message)`` is called from the caller's thread after each finished job.
    ``cancel`` is polled between jobs; a cancelled run raises :class:`cde_core.errors.CancelledError`.
    """

    name: str

    def run(
        self,
        jobs: Sequence[Job],
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> list[Any]: ...

    def close(self) -> None: ...


@runtime_checkable
class ExecutorType(Protocol):
    """A registered executor kind: builds executors from its validated ``Params``."""

    name: str
    summary: str
    Params: ClassVar[type[BaseModel]]

    def create(self, params: BaseModel) -> Executor: ...
