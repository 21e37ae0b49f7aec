"""GET /health: liveness for load balancers and compose; public even when API keys are set."""

from __future__ import annotations

from importlib.metadata import version

from fastapi import APIRouter, Request

from cde_core import __version__ as core_version
from cde_core.errors import CdeError
from cde_server.api.models import Health
from cde_server.api.responses import problem_responses


class StoreUnavailableError(CdeError):
    title = "task store unavailable"
    http_status = 503


router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, responses=problem_responses(503))
def health(request: Request) -> Health:
    """Answers 200 while the server and its task store work, 503 when the store is unreachable."""
    tasks = request.app.state.tasks
    try:
        tasks.store.ping()
    except Exception as exc:
        raise StoreUnavailableError(f"{tasks.store.name} task store does not answer: {type(exc).__name__}",
                                    hint="check server.task_store and that Redis is up") from None
    return Health(version=version("cde-server"), core_version=core_version, task_store=tasks.store.name,
                  instance=tasks.instance_id)
