"""GET /tasks, GET /tasks/{id}, POST /tasks/{id}/cancel.

Tasks are created by the stage routers (``app.state.tasks.submit``); this router only lets clients
watch and cancel them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from cde_core.lake import SAFE_VALUE_PATTERN
from cde_core.tasks import TaskInfo, TaskStatus
from cde_server.api.responses import problem_responses

router = APIRouter(prefix="/tasks", tags=["tasks"])

# the one name rule of the API (task ids are uuid hex, kinds dotted names like "bars.aggregate"), so the
# schema admits nothing the path guard or the store would refuse
TaskIdPath = Annotated[str, Path(description="task id", pattern=SAFE_VALUE_PATTERN, max_length=64)]


@router.get("", response_model=list[TaskInfo])
def list_tasks(
    request: Request,
    status: Annotated[TaskStatus | None, Query(description="only tasks in this state")] = None,
    kind: Annotated[str | None, Query(description="only tasks of this kind", pattern=SAFE_VALUE_PATTERN,
                                      max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many, newest first")] = 100,
) -> list[TaskInfo]:
    """Tasks, newest first (finished ones are kept for ``server.task_ttl_s``)."""
    tasks: list[TaskInfo] = request.app.state.tasks.list_tasks(status=status, kind=kind, limit=limit)
    return tasks


@router.get("/{task_id}", response_model=TaskInfo, responses=problem_responses(404))
def get_task(request: Request, task_id: TaskIdPath) -> TaskInfo:
    """One task: status, progress, result or error."""
    return request.app.state.tasks.get(task_id)


@router.post("/{task_id}/cancel", response_model=TaskInfo, responses=problem_responses(404, 409))
def cancel_task(request: Request, task_id: TaskIdPath) -> TaskInfo:
    """Cancel: a queued task is cancelled at once; a running one is asked to stop (its status turns
    ``cancelled`` when the work notices). 409 if the task already finished."""
    return request.app.state.tasks.cancel(task_id)
