"""GET /health: liveness for load balancers and compose; public even when API keys are set."""

from __future__ import annotations

from importlib.metadata import version

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from cde_core import __version__ as core_version
from cde_server.api.models import Health
from cde_server.api.problems import store_unavailable
from cde_server.api.responses import problem_responses

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, responses=problem_responses(503))
def health(request: Request) -> Health | JSONResponse:
    """Answers 200 while the server and its task store work, 503 (with the cause and a Retry-After)
    when the store is unreachable. ``HEAD /health`` answers the same without a body."""
    tasks = request.app.state.tasks
    try:
        tasks.store.ping()
    except Exception as exc:
        return store_unavailable(tasks.store.name, exc)
    return Health(version=version("cde-server"), core_version=core_version, task_store=tasks.store.name,
                  instance=tasks.instance_id)
