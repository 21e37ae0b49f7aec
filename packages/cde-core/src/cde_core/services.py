"""A stage service made of a request model and a function named by its import path.

Why the path: plugin modules are imported on every ``cde`` run, and a service's function drags in its
stage (pandas, Numba kernels); :class:`ServiceFunction` imports it only when the service runs.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:  # registering a service runs on every `cde` call: no pyarrow there
    from cde_core.lake import Lake
    from cde_core.progress import ProgressCallback


@dataclass(frozen=True)
class ServiceFunction:
    """:class:`cde_core.contracts.service.StageService` for ``target(request, lake=…, progress=…)``."""

    name: str
    summary: str
    Params: type[BaseModel]
    target: str  # "package.module:function"

    def run(self, request: BaseModel, lake: Lake, progress: ProgressCallback | None = None) -> Any:
        module, _, function = self.target.partition(":")
        return getattr(importlib.import_module(module), function)(request, lake=lake, progress=progress)
