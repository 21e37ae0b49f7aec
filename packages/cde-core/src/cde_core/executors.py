"""Choose the configured executor by name through the plugin registry."""

from __future__ import annotations

from cde_core.config import ExecutorConfig
from cde_core.contracts.executor import Executor
from cde_core.plugins import get_plugins


def create_executor(config: ExecutorConfig | None = None) -> Executor:
    """The executor named in config (``local`` unless told otherwise), built with its params."""
    config = config or ExecutorConfig()
    executor_type = get_plugins().executors.get(config.name)
    raw = {"kind": config.kind, "max_workers": config.max_workers, "scheduler": config.dask_scheduler}
    fields = executor_type.Params.model_fields
    params = executor_type.Params.model_validate({k: v for k, v in raw.items() if k in fields})
    executor: Executor = executor_type.create(params)
    return executor
