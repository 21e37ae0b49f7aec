"""The application factory: ``create_app(config)`` builds the FastAPI app every route plugs into.

``app.state`` holds what routes need — ``config`` (CdeConfig), ``lake`` (:class:`cde_core.lake.Lake`)
and ``tasks`` (the :class:`~cde_server.tasks.TaskManager`, a :class:`cde_core.tasks.TaskSubmitter`).
cde-server's own routers come first, then every healthy plugin's ``register_routes``.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import AsyncIterator
from importlib.metadata import version

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from cde_core.config import CdeConfig, get_config
from cde_core.lake import Lake
from cde_core.lake_paths import lake_relative
from cde_core.plugins import get_plugins
from cde_server.api.head_requests import HeadAsGetMiddleware
from cde_server.api.limits import BodySizeLimitMiddleware
from cde_server.api.openapi import install_openapi
from cde_server.api.path_guard import PathTraversalGuard
from cde_server.api.problems import install_problem_handlers
from cde_server.api.routers import components, health, plugins, tasks
from cde_server.api.security import API_KEY_HEADER, ApiKeyMiddleware
from cde_server.contributions import add_plugin_routes
from cde_server.tasks import TaskManager, open_task_store
from cde_server.tasks.redis_store import RedisTaskStore, wait_for_redis

DESCRIPTION = """REST API of the Crypto Data Engine. Long work runs as tasks: a POST answers 202 with a
task; poll `GET /tasks/{id}` for progress and the result. Errors are RFC 9457 problem bodies."""


def create_task_manager(config: CdeConfig) -> TaskManager:
    """The manager for ``config.server`` (store from ``server.task_store``)."""
    store = open_task_store(config.server.task_store, ttl_s=config.server.task_ttl_s)
    if isinstance(store, RedisTaskStore):  # compose may start the API a moment before Redis answers
        wait_for_redis(store, timeout_s=float(os.environ.get("CDE_REDIS_WAIT_S", "30")))
    return TaskManager(store, default_timeout_s=config.server.task_timeout_s)


def create_app(config: CdeConfig | None = None, *, task_manager: TaskManager | None = None) -> FastAPI:
    """Build the API for ``config`` (default: the process-wide config); starts the task manager."""
    config = config or get_config()
    manager = task_manager or create_task_manager(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        manager.close()

    app = FastAPI(title="cde", version=version("cde-server"), description=DESCRIPTION, lifespan=lifespan)
    app.state.config = config
    app.state.lake = Lake(config.data_root)
    app.state.tasks = manager
    manager.public_text = functools.partial(lake_relative, root=app.state.lake.root)
    install_problem_handlers(app)
    for router in (health.router, plugins.router, components.router, tasks.router):
        app.include_router(router)
    add_plugin_routes(app, get_plugins())  # refuses routes another plugin already added
    # started after the plugins ran, so handlers they registered can re-queue orphaned tasks
    manager.start()

    keys = [k.get_secret_value() for k in config.server.api_keys]
    # added innermost first: the guard and size limit run before auth, CORS wraps everything so even
    # a 401 or 413 carries the CORS headers a browser needs to read it
    app.add_middleware(HeadAsGetMiddleware)
    if keys:
        app.add_middleware(ApiKeyMiddleware, keys=keys)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=config.server.max_request_bytes)
    app.add_middleware(PathTraversalGuard)
    if config.server.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=config.server.cors_origins, allow_credentials=False,
                           allow_methods=["*"], allow_headers=["*", API_KEY_HEADER], expose_headers=["*"])
    install_openapi(app, api_keys=bool(keys))
    return app


def app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory`` (``cde serve``): config from file + environment."""
    return create_app()
