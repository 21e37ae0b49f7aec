"""The real heavy stages, run with the local and with the dask executor, write identical lakes.

The stage packages submit work only through ``cde_core`` executors; this is where that is proven for
Dask: bars aggregated per symbol and features computed per symbol are compared file by file (Arrow
tables with metadata, and raw bytes). Skipped when a stage package (or its service) is not installed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from cde_core.config import CdeConfig, ExecutorConfig, LoadedConfig, get_loaded_config, set_config
from cde_core.lake import Lake
from cde_core.local_executor import LocalExecutor, LocalExecutorParams
from cde_dask import DaskExecutor


@pytest.fixture(scope="module")
def trades_lake(tmp_path_factory: pytest.TempPathFactory, synthetic_trades: Any) -> Path:
    return synthetic_trades.write(Lake(tmp_path_factory.mktemp("trades-lake"))).root


def lake_copy(trades_lake: Path, root: Path) -> Lake:
    shutil.copytree(trades_lake / "trades", root / "trades")
    return Lake(root)


def assert_identical_trees(local: Path, dask: Path) -> int:
    """Same visible files, same tables (schema metadata included), same bytes; returns the file count."""
    local_files = sorted(p.relative_to(local) for p in local.rglob("*") if p.is_file() and not p.name.startswith("."))
    dask_files = sorted(p.relative_to(dask) for p in dask.rglob("*") if p.is_file() and not p.name.startswith("."))
    assert dask_files == local_files and local_files
    for relative in local_files:
        if relative.suffix == ".parquet":
            local_table, dask_table = pq.read_table(local / relative), pq.read_table(dask / relative)
            assert dask_table.schema.equals(local_table.schema, check_metadata=True)
            # pandas' equals treats NaN (features during warm-up) as equal to NaN; Arrow's does not
            assert dask_table.to_pandas().equals(local_table.to_pandas()), relative
        assert (dask / relative).read_bytes() == (local / relative).read_bytes(), relative
    return len(local_files)


@contextmanager
def configured(root: Path, executor: ExecutorConfig) -> Iterator[None]:
    """The process-wide config with this data root and executor (stages that read it themselves)."""
    previous = get_loaded_config()
    set_config(LoadedConfig(config=CdeConfig(data_root=root, executor=executor), origins={}))
    try:
        yield
    finally:
        set_config(previous)


def aggregate_both(trades: Any, trades_lake: Path, tmp_path: Path, dask_executor: DaskExecutor
                   ) -> tuple[Lake, Lake, Any]:
    aggregate = pytest.importorskip("cde_bars.aggregate")
    request = aggregate.AggregateRequest(bar="time", params={"interval": "5min"}, exchange="binance",
                                         market="spot", symbols=trades.symbols, start=trades.days[0],
                                         end=trades.days[-1])
    local_lake, dask_lake = lake_copy(trades_lake, tmp_path / "local"), lake_copy(trades_lake, tmp_path / "dask")
    local_report = aggregate.aggregate_lake(request, lake=local_lake,
                                            executor=LocalExecutor(LocalExecutorParams(max_workers=2)))
    dask_report = aggregate.aggregate_lake(request, lake=dask_lake, executor=dask_executor)
    assert dask_report.symbols == local_report.symbols
    assert local_report.bars > 0 and all(s.status == "built" for s in local_report.symbols)
    return local_lake, dask_lake, local_report


def test_bar_aggregation_writes_the_same_bars_lake(synthetic_trades: Any, trades_lake: Path, tmp_path: Path,
                                                   dask_executor: DaskExecutor) -> None:
    local_lake, dask_lake, _ = aggregate_both(synthetic_trades, trades_lake, tmp_path, dask_executor)
    files = assert_identical_trees(local_lake.root / "bars", dask_lake.root / "bars")
    assert files >= 2 * len(synthetic_trades.symbols)  # two month partitions per symbol at least


def test_feature_computation_writes_the_same_features_lake(synthetic_trades: Any, trades_lake: Path,
                                                           tmp_path: Path, cluster: Any,
                                                           dask_executor: DaskExecutor) -> None:
    service = pytest.importorskip("cde_features.service")
    local_lake, dask_lake, report = aggregate_both(synthetic_trades, trades_lake, tmp_path, dask_executor)
    symbols = synthetic_trades.symbols
    request = service.ComputeRequest(bars=report.spec_id, exchange="binance", market="spot", symbols=symbols)
    with configured(local_lake.root, ExecutorConfig(name="local", kind="thread", max_workers=2)):
        local_result = service.compute_to_lake(request, lake=local_lake)
    with configured(dask_lake.root, ExecutorConfig(name="dask", dask_scheduler=cluster.scheduler_address)):
        dask_result = service.compute_to_lake(request, lake=dask_lake)
    assert dask_result.columns == local_result.columns and dask_result.rows == local_result.rows > 0
    assert assert_identical_trees(local_lake.root / "features", dask_lake.root / "features") == len(symbols)


def test_parameter_sweep_on_the_pipeline_gives_the_same_metrics(synthetic_trades: Any, trades_lake: Path,
                                                                tmp_path: Path, cluster: Any,
                                                                dask_executor: DaskExecutor) -> None:
    """trades → bars → features → backtest sweep, every step on dask, against every step local."""
    service = pytest.importorskip("cde_features.service")
    sweep = pytest.importorskip("cde_backtest.sweep")
    local_lake, dask_lake, report = aggregate_both(synthetic_trades, trades_lake, tmp_path, dask_executor)
    request = service.ComputeRequest(bars=report.spec_id, exchange="binance", market="spot",
                                     symbols=synthetic_trades.symbols, factors=["ret_log_*"])
    # a time-series strategy: time bars open at each symbol's first trade, so the bars of different
    # symbols rarely share a timestamp and a cross-sectional strategy would not trade on this lake
    base = {"strategy": "trend_following", "bars": report.spec_id, "exchange": "binance", "market": "spot",
            "params": {"slow": 48}, "engine": {"costs": {"taker_bp": 5}}}
    rows = {}
    for name, lake, executor in (
            ("local", local_lake, ExecutorConfig(name="local", kind="thread", max_workers=2)),
            ("dask", dask_lake, ExecutorConfig(name="dask", dask_scheduler=cluster.scheduler_address))):
        with configured(lake.root, executor):
            features = service.compute_to_lake(request, lake=lake)
            result = sweep.run_sweep(sweep.SweepRequest(base={**base, "features": features.spec},
                                                        grid={"params.fast": [6, 12],
                                                              "engine.costs.taker_bp": [0, 10]}), lake)
        rows[name] = [row.model_dump(exclude={"run_id"}) for row in result.rows]
    assert len(rows["local"]) == 4 and len({r["total_return"] for r in rows["local"]}) > 1
    assert rows["dask"] == rows["local"]
