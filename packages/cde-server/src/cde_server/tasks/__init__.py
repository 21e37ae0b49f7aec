"""The task manager and its stores (in-memory and Redis)."""

from cde_server.tasks.factory import open_task_store
from cde_server.tasks.manager import TaskManager
from cde_server.tasks.memory_store import MemoryTaskStore
from cde_server.tasks.store import TaskStore

__all__ = ["MemoryTaskStore", "TaskManager", "TaskStore", "open_task_store"]
