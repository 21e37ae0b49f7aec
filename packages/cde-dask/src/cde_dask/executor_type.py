"""The registered ``dask`` executor kind (importing this never imports Dask)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel

from cde_dask.executor import DaskExecutor
from cde_dask.params import DaskExecutorParams


class DaskExecutorType:
    name = "dask"
    summary = "dask.distributed cluster: CDE_DASK_SCHEDULER=tcp://host:port, or a LocalCluster if unset"
    Params: ClassVar[type[BaseModel]] = DaskExecutorParams

    def create(self, params: BaseModel) -> DaskExecutor:
        return DaskExecutor(DaskExecutorParams.model_validate(params.model_dump()))
