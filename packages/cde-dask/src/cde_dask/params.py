"""Validated settings of the ``dask`` executor (pydantic only: importing this never imports Dask)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DaskExecutorParams(BaseModel):
    """``scheduler`` and ``max_workers`` come from ``ExecutorConfig`` (``CDE_DASK_SCHEDULER``); the rest
    have defaults that suit both a laptop LocalCluster and a shared cluster."""

    model_config = ConfigDict(extra="forbid")

    scheduler: str | None = Field(None, description="tcp://host:port of a running scheduler; none starts a "
                                  "LocalCluster on this machine (loopback only, no dashboard)")
    max_workers: int | None = Field(None, ge=1, description="LocalCluster worker processes; default: number of "
                                    "CPUs. Ignored when connecting to a scheduler")
    threads_per_worker: int = Field(1, ge=1, description="LocalCluster threads per worker process")
    retries: int = Field(1, ge=0, description="re-runs of a job that raised (transient I/O); a worker that dies "
                         "is handled by the scheduler, which reassigns its tasks")
    max_in_flight: int | None = Field(None, ge=1, description="jobs submitted but not yet collected; default: "
                                      "2 x the cluster's threads, so huge job lists keep memory bounded")
    connect_timeout_s: float = Field(30.0, gt=0, description="how long to wait for the scheduler")
    no_workers_timeout_s: float = Field(60.0, gt=0, description="a run fails (instead of waiting forever) when "
                                        "the cluster has had no worker this long")
    cancel_poll_s: float = Field(0.1, gt=0, description="how often the cancel token is checked while jobs run")
