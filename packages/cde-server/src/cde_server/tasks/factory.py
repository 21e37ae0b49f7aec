"""Choose the task store from ``server.task_store`` (``memory`` or a redis URL)."""

from __future__ import annotations

from cde_core.errors import ConfigError
from cde_server.tasks.memory_store import MemoryTaskStore
from cde_server.tasks.store import TaskStore

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def open_task_store(url: str, *, ttl_s: float) -> TaskStore:
    """``memory`` → :class:`MemoryTaskStore`; ``redis://host:port/db[?prefix=p:]`` → RedisTaskStore."""
    if url in ("", "memory"):
        return MemoryTaskStore(ttl_s=ttl_s)
    if url.startswith(REDIS_SCHEMES):
        from cde_server.tasks.redis_store import RedisTaskStore

        return RedisTaskStore(url, ttl_s=ttl_s)
    raise ConfigError(f"unknown task store '{url}'", where="server.task_store",
                      hint="use 'memory' or redis://host:port/db (CDE_TASK_STORE)")
