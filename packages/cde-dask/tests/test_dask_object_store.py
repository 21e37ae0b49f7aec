"""A Dask cluster whose workers only see the bucket (issue 17).

The lake is ``s3://…`` on the loopback S3 server; the worker processes get the AWS variables and a
cache folder through their own environment (the Nanny's ``env``), start in an empty folder, and no
local lake folder exists. Oracle: the bars and features they write on the bucket are, file by file and
byte by byte, what the ``local`` executor writes on a local folder from the same trades. A worker that
lacks the endpoint or the keys fails the ``cde`` command with one line naming the missing variable.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cde_core.config import CdeConfig, ExecutorConfig, LoadedConfig, get_loaded_config, set_config
from cde_core.lake import Lake
from cde_core.lake_location import LakePath
from cde_core.local_executor import LocalExecutor, LocalExecutorParams
from cde_core.object_store import ObjectPath
from cde_dask import DaskExecutor, DaskExecutorParams
from cde_dask.cluster_connection import LOOPBACK_CLUSTER_OPTIONS

CDE = [sys.executable, "-m", "cde_server.cli.main"]


@dataclass
class BucketCluster:
    """A LocalCluster and the local folders its workers were given (to check what they wrote there)."""

    cluster: Any
    cwd: Path
    home: Path
    cache: Path

    @property
    def address(self) -> str:
        return str(self.cluster.scheduler_address)


@contextmanager
def bucket_only_cluster(root: Path, env: dict[str, str], n_workers: int) -> Iterator[BucketCluster]:
    """Workers whose environment holds ``env`` and nothing of this process's AWS/cde settings, started
    in an empty folder with an empty home: whatever they write locally lands where the test sees it."""
    from distributed import LocalCluster

    cwd, home, cache, scratch = (root / name for name in ("cwd", "home", "cache", "dask-scratch"))
    for folder in (cwd, home, cache, scratch):
        folder.mkdir(parents=True)
    worker_env = {**env, "HOME": str(home), "CDE_CACHE_DIR": str(cache)}
    with pytest.MonkeyPatch.context() as patch:
        # spawned workers copy this process's environment and working directory when they start
        for name in list(os.environ):
            if name.startswith(("AWS_", "CDE_")):
                patch.delenv(name)
        patch.chdir(cwd)
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, env=worker_env,
                               local_directory=str(scratch), **LOOPBACK_CLUSTER_OPTIONS)
    try:
        yield BucketCluster(cluster, cwd, home, cache)
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def bucket_cluster(s3_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BucketCluster]:
    with bucket_only_cluster(tmp_path_factory.mktemp("bucket-workers"), s3_server.env, n_workers=2) as cluster:
        yield cluster


def visible_files(root: LakePath) -> dict[str, bytes]:
    """Every file under ``root`` except hidden (temporary) ones, by path relative to ``root``."""
    if isinstance(root, ObjectPath):
        paths = [path for path, _ in root.walk_files()]
    else:
        paths = [path for path in root.rglob("*") if path.is_file()]
    prefix = len(str(root)) + 1
    return {str(path)[prefix:]: path.read_bytes() for path in paths
            if not any(part.startswith(".") for part in str(path)[prefix:].split("/"))}


@contextmanager
def configured(root: LakePath, executor: ExecutorConfig) -> Iterator[None]:
    previous = get_loaded_config()
    set_config(LoadedConfig(config=CdeConfig(data_root=root, executor=executor), origins={}))
    try:
        yield
    finally:
        set_config(previous)


def aggregate_on_both(trades: Any, local: Lake, bucket: Lake, cluster: BucketCluster) -> Any:
    """Time bars of ``trades`` by the local executor on ``local`` and by the cluster on ``bucket``."""
    aggregate = pytest.importorskip("cde_bars.aggregate")
    request = aggregate.AggregateRequest(bar="time", params={"interval": "5min"}, exchange="binance", market="spot",
                                         symbols=trades.symbols, start=trades.days[0], end=trades.days[-1])
    local_report = aggregate.aggregate_lake(request, lake=local,
                                            executor=LocalExecutor(LocalExecutorParams(max_workers=2)))
    with DaskExecutor(DaskExecutorParams(scheduler=cluster.address)) as executor:
        bucket_report = aggregate.aggregate_lake(request, lake=bucket, executor=executor)
    assert all(s.status == "built" and s.bars > 0 for s in local_report.symbols)
    assert bucket_report.symbols == local_report.symbols
    return local_report


def assert_same_files(local: Path, bucket: ObjectPath) -> int:
    """The same visible files with the same bytes under both roots; returns how many."""
    local_files, bucket_files = visible_files(local), visible_files(bucket)
    assert sorted(bucket_files) == sorted(local_files) and local_files
    for name, data in local_files.items():
        assert bucket_files[name] == data, name
    return len(local_files)


def assert_nothing_written_locally(cluster: BucketCluster) -> None:
    """No lake folder on the workers' disk: an s3:// root taken for a path would be ./s3:/… in their
    working directory, the default data root is under their home."""
    assert list(cluster.cwd.iterdir()) == []
    assert list(cluster.home.rglob("*")) == []


def test_bars_and_features_written_by_bucket_only_workers_equal_the_local_executors(
        bucket_cluster: BucketCluster, s3_lake_url: str, synthetic_trades: Any, tmp_path: Path) -> None:
    service = pytest.importorskip("cde_features.service")
    bucket = synthetic_trades.write(Lake(s3_lake_url))
    local = synthetic_trades.write(Lake(tmp_path / "local-lake"))
    report = aggregate_on_both(synthetic_trades, local, bucket, bucket_cluster)
    bars = assert_same_files(local.root / "bars", bucket.root / "bars")
    assert bars >= 2 * len(synthetic_trades.symbols)  # two month partitions per symbol, and manifests

    features = service.ComputeRequest(bars=report.spec_id, exchange="binance", market="spot",
                                      symbols=synthetic_trades.symbols, factors=["ret_log_*"])
    with configured(local.root, ExecutorConfig(name="local", kind="thread", max_workers=2)):
        local_result = service.compute_to_lake(features, lake=local)
    with configured(bucket.root, ExecutorConfig(name="dask", dask_scheduler=bucket_cluster.address)):
        bucket_result = service.compute_to_lake(features, lake=bucket)
    # the files the workers report are object keys on the bucket, not local paths
    assert bucket_result.files == [f"{bucket.root}/{name}" for name in
                                   (str(f)[len(str(local.root)) + 1:] for f in local_result.files)]
    assert assert_same_files(local.root / "features", bucket.root / "features") == len(synthetic_trades.symbols)
    assert_nothing_written_locally(bucket_cluster)


def test_a_sweep_run_by_bucket_only_workers_gives_the_local_executors_metrics(
        bucket_cluster: BucketCluster, s3_lake_url: str, synthetic_trades: Any, tmp_path: Path) -> None:
    """trades → bars → features → backtest sweep on the bucket by the cluster, against all of it local."""
    service = pytest.importorskip("cde_features.service")
    sweep = pytest.importorskip("cde_backtest.sweep")
    bucket = synthetic_trades.write(Lake(s3_lake_url))
    local = synthetic_trades.write(Lake(tmp_path / "local-lake"))
    report = aggregate_on_both(synthetic_trades, local, bucket, bucket_cluster)
    features = service.ComputeRequest(bars=report.spec_id, exchange="binance", market="spot",
                                      symbols=synthetic_trades.symbols, factors=["ret_log_*"])
    base = {"strategy": "trend_following", "bars": report.spec_id, "exchange": "binance", "market": "spot",
            "params": {"slow": 48}, "engine": {"costs": {"taker_bp": 5}}}
    rows = {}
    for name, lake, executor in (
            ("local", local, ExecutorConfig(name="local", kind="thread", max_workers=2)),
            ("bucket", bucket, ExecutorConfig(name="dask", dask_scheduler=bucket_cluster.address))):
        with configured(lake.root, executor):
            spec = service.compute_to_lake(features, lake=lake).spec
            result = sweep.run_sweep(sweep.SweepRequest(base={**base, "features": spec},
                                                        grid={"params.fast": [6, 12]}), lake)
        rows[name] = [row.model_dump(exclude={"run_id"}) for row in result.rows]
    assert len(rows["local"]) == 2 and len({r["total_return"] for r in rows["local"]}) > 1
    assert rows["bucket"] == rows["local"]
    assert_nothing_written_locally(bucket_cluster)


@pytest.mark.parametrize("withheld", [("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"),
                                      ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")],
                         ids=["endpoint", "keys"])
def test_a_worker_without_the_aws_settings_fails_the_command_with_one_line(
        withheld: tuple[str, ...], s3_server: Any, s3_lake_url: str, synthetic_trades: Any,
        tmp_path: Path) -> None:
    pytest.importorskip("cde_bars.aggregate")
    bucket = Lake(s3_lake_url)
    symbol, day = synthetic_trades.symbols[0], synthetic_trades.days[0]
    synthetic_trades.write(bucket)
    env = {name: value for name, value in s3_server.env.items() if name not in withheld}
    with bucket_only_cluster(tmp_path / "workers", env, n_workers=1) as cluster:
        client_env = {name: value for name, value in os.environ.items() if not name.startswith("CDE_")}
        client_env.update({**s3_server.env, "CDE_DATA_ROOT": s3_lake_url, "CDE_CONFIG": "",
                           "CDE_CACHE_DIR": str(tmp_path / "client-cache"), "CDE_EXECUTOR": "dask",
                           "CDE_DASK_SCHEDULER": cluster.address})
        done = subprocess.run([*CDE, "aggregate", "--bar", "time", "--interval", "5m", "--exchange", "binance",
                               "--market", "spot", "--symbols", symbol, "--start", day.isoformat(),
                               "--end", day.isoformat()],
                              env=client_env, cwd=tmp_path, capture_output=True, text=True, check=False)
        assert list(cluster.cwd.iterdir()) == []
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert "Dask worker cannot reach the lake" in lines[0] and withheld[0] in lines[0], lines[0]
    assert s3_lake_url in lines[0] and "Traceback" not in done.stderr
    assert not list((bucket.root / "bars").walk_files())
