"""cde-core's own plugin: the ``local`` executor, registered through the public hook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cde_core.local_executor import LocalExecutorType
from cde_core.markers import hookimpl


@hookimpl
def register_executors(register: Callable[[Any], None]) -> None:
    register(LocalExecutorType())
