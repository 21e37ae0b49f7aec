"""cde-dask: run cde's heavy steps on a ``dask.distributed`` cluster through the executor API.

Importing this package never imports Dask; the cluster client is created on first use.
"""

from cde_dask.executor import DaskExecutor
from cde_dask.executor_type import DaskExecutorType
from cde_dask.params import DaskExecutorParams

__all__ = ["DaskExecutor", "DaskExecutorParams", "DaskExecutorType"]
