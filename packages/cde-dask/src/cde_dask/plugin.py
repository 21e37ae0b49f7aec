"""The plugin module named by the ``cde`` entry point: registers the ``dask`` executor.

cde imports this on every invocation, so nothing here (or in what it imports) imports Dask;
the cluster client is created only when a run needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cde_core import hookimpl
from cde_dask.executor_type import DaskExecutorType


@hookimpl
def register_executors(register: Callable[[Any], None]) -> None:
    register(DaskExecutorType())
