"""Calculator selection and output, the features lake, factor analysis and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cde_core.atomic import atomic_path
from cde_core.errors import ConfigError, NotFoundError
from cde_core.lake import Lake
from cde_core.lake_location import arrow_target, lake_location
from cde_core.local_executor import LocalExecutor, LocalExecutorParams
from cde_core.schemas import BARS_SCHEMA
from cde_core.visual.plotly_asset import asset_name
from cde_features.analysis.analyzer import analyze_factors
from cde_features.analysis.report import render_html
from cde_features.calculator import UnifiedFeatureCalculator, compute_features
from cde_features.lake_io import read_features, write_features
from cde_features.synthetic import synthetic_bars, synthetic_panel

EXEC = LocalExecutor(LocalExecutorParams(max_workers=1))


def test_default_set_has_100_plus_columns_and_the_momentum_returns() -> None:
    calc = UnifiedFeatureCalculator()
    assert len(calc.columns) >= 100
    assert len(set(calc.columns)) == len(calc.columns)
    for col in ("ret_log_24", "ret_log_168", "ret_log_672", "vol_parkinson_168", "rsi_14", "alpha_001",
                "ret_log_24_csrank"):
        assert col in calc.columns
    assert calc.id == "default"
    groups = {r.group for r in calc.factors}
    assert groups == {"returns", "volatility", "momentum", "volume_flow", "microstructure", "distribution",
                      "alphas", "cross_sectional", "technical", "seasonality", "market"}
    # the installed third-party factor (all params defaulted) does not join the default set
    assert "example_range_position_24" not in calc.columns
    assert {r.distribution for r in calc.factors} == {"cde-features"}


def test_selection_by_name_group_and_glob() -> None:
    assert UnifiedFeatureCalculator(select=["rsi"]).columns == ["rsi_14", "rsi_24", "rsi_168"]
    vol = UnifiedFeatureCalculator(select=["volatility"]).columns
    assert "vol_yz_168" in vol and "rsi_14" not in vol
    glob = UnifiedFeatureCalculator(select=["*_672"]).columns
    assert set(glob) == {"ret_simple_672", "ret_log_672"}
    calc = UnifiedFeatureCalculator(select=["rsi"], params={"rsi": {"window": 21}})
    assert calc.columns == ["rsi_21"] and calc.id.startswith("default-")
    with pytest.raises(NotFoundError):
        UnifiedFeatureCalculator(select=["no_such_factor"])
    with pytest.raises(ConfigError):
        UnifiedFeatureCalculator(select=["ret_log_24_csrank"])  # its source is not selected


def test_third_party_factor_in_computed_output() -> None:
    panel = synthetic_panel(3, 120, seed=1)
    out = compute_features(panel, factors=["example_range_position", "ret_log"], executor=EXEC)
    col = out["example_range_position_24"]
    assert col.notna().sum() > 0 and col.dropna().between(0, 1).all()
    bars = panel.xs("SYM001USDT", level=1)
    expected = ((bars.close - bars.low.rolling(24).min())
                / (bars.high.rolling(24).max() - bars.low.rolling(24).min())).to_numpy()
    np.testing.assert_allclose(out.xs("SYM001USDT", level=1)["example_range_position_24"], expected)


def test_unsorted_panel_and_missing_columns() -> None:
    panel = synthetic_panel(2, 50, seed=2)
    shuffled = panel.sample(frac=1.0, random_state=0)
    out = compute_features(shuffled, factors=["ret_log"], executor=EXEC)
    assert out.index.equals(panel.index)
    from cde_core.errors import DataError

    with pytest.raises(DataError):
        compute_features(panel.drop(columns=["close"]), factors=["ret_log"], executor=EXEC)


def test_features_lake_roundtrip(lake_root: str) -> None:
    lake = Lake(lake_root)
    panel = synthetic_panel(3, 80, seed=4)
    features = compute_features(panel, factors=["returns"], executor=EXEC)
    files = write_features(features, lake, spec="test", exchange="binance", market="spot", source="unit",
                           extra={"feature_set": "x"})
    assert len(files) == 3 and all(f.name == "part-0.parquet" for f in files)
    assert all(type(f) is type(lake.root) and lake.root in f.parents for f in files)
    where, filesystem = arrow_target(files[0])
    schema = pq.read_schema(where, filesystem=filesystem)
    assert schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert schema.names[0] == "ts" and "symbol" not in schema.names
    prov = Lake.read_provenance(files[0])
    assert prov is not None and prov.rows == 80 and prov.extra["feature_set"] == "x"
    back = read_features(lake, "test", "binance", "spot")
    pd.testing.assert_frame_equal(back[features.columns], features, check_names=False, check_index_type=False)


def test_analysis_finds_a_perfect_factor() -> None:
    panel = synthetic_panel(8, 300, seed=5)
    close = panel["close"]
    fwd = close.groupby(level=1).shift(-1) / close - 1
    features = pd.DataFrame({"oracle": fwd, "noise": np.random.default_rng(0).normal(size=len(panel))},
                            index=panel.index)
    result = analyze_factors(features, close, horizons=[1, 5], quantiles=4)
    table = result.table().set_index(["column", "horizon"])
    assert table.loc[("oracle", 1), "ic_mean"] == pytest.approx(1.0)
    assert table.loc[("oracle", 1), "rank_ic_mean"] == pytest.approx(1.0)
    assert abs(table.loc[("noise", 1), "rank_ic_mean"]) < 0.1
    q = result.columns[0].quantile_returns[1]
    assert list(q.index) == [1, 2, 3, 4] and q.is_monotonic_increasing
    assert 0.0 <= result.columns[0].turnover_top <= 1.0
    html = render_html(result)
    assert "oracle" in html and "Plotly.newPlot" in html


def _bars_lake(root: Path | str, symbols: list[str], n: int) -> None:
    lake = Lake(root)
    for i, symbol in enumerate(symbols):
        frame = synthetic_bars(n, seed=i).reset_index()
        frame["day"] = frame["ts"].dt.strftime("%Y-%m-%d")
        for day, part in frame.groupby("day"):
            table = pa.Table.from_pandas(part.drop(columns="day"), schema=BARS_SCHEMA, preserve_index=False)
            folder = lake.bars_dir("time-1h", "binance", "spot", symbol) / f"date={day}"
            with atomic_path(folder / "part-0.parquet") as tmp:
                pq.write_table(table, tmp)


def _cde(tmp_path: Path, *args: str, root: str | None = None) -> subprocess.CompletedProcess[str]:
    """``cde …`` in a child process on the lake ``root`` (default ``<tmp>/lake``); for an ``s3://`` root
    the AWS variables of this process (set by the ``s3_lake_url`` fixture) go along."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDE_")}
    env["CDE_DATA_ROOT"] = root or str(tmp_path / "lake")
    env["CDE_CACHE_DIR"] = str(tmp_path / "cde-cache")
    return subprocess.run([sys.executable, "-m", "cde_server.cli.main", *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=600, check=False)


def test_cli_list_compute_analyze(tmp_path: Path, lake_root: str) -> None:
    listed = _cde(tmp_path, "features", "list", "--json", root=lake_root)
    assert listed.returncode == 0, listed.stderr
    assert '"example_range_position"' in listed.stdout and '"cde-example-plugin"' in listed.stdout

    _bars_lake(lake_root, ["AAAUSDT", "BBBUSDT", "CCCUSDT"], 24 * 40)
    done = _cde(tmp_path, "features", "compute", "--bars", "time-1h", "--symbols", "AAAUSDT,BBBUSDT,CCCUSDT",
                "--start", "2024-01-10", "--end", "2024-02-05", root=lake_root)
    assert done.returncode == 0, done.stderr
    spec_dir = lake_location(lake_root) / "features" / "spec=default__time-1h" / "exchange=binance" / "market=spot"
    where, filesystem = arrow_target(spec_dir / "symbol=AAAUSDT" / "part-0.parquet")
    part = pq.read_table(where, filesystem=filesystem)
    assert part.num_rows == 27 * 24 and "ret_log_168" in part.column_names
    assert "example_range_position_24" not in part.column_names  # default = built-ins only
    assert str(part.column("ts")[0].as_py()).startswith("2024-01-10 00:00:00")

    report = tmp_path / "r.html"
    analyzed = _cde(tmp_path, "features", "analyze", "--bars", "time-1h", "--features", "default__time-1h",
                    "--columns", "ret_log_24,rsi_14", "--horizons", "1,24", "--report", str(report), root=lake_root)
    assert analyzed.returncode == 0, analyzed.stderr
    assert "ret_log_24" in analyzed.stdout and report.read_text().startswith("<!DOCTYPE html>")
    assert f'<script src="{asset_name()}"' in report.read_text()  # a copy beside a report outside the lake
    # a report inside the lake (a folder or a bucket) loads the lake's one shared plotly.js
    in_lake = lake_location(lake_root) / "reports" / "factors.html"
    analyzed = _cde(tmp_path, "features", "analyze", "--bars", "time-1h", "--features", "default__time-1h",
                    "--columns", "ret_log_24", "--horizons", "1", "--report", str(in_lake), root=lake_root)
    assert analyzed.returncode == 0, analyzed.stderr
    assert in_lake.read_text().startswith("<!DOCTYPE html>")
    assert f'<script src="../assets/{asset_name()}"' in in_lake.read_text()
    assert (lake_location(lake_root) / "assets" / asset_name()).stat().st_size > 1_000_000
    assert not (tmp_path / "s3:").exists()  # nothing went to a local folder named after the URL

    missing = _cde(tmp_path, "features", "compute", "--bars", "nope", root=lake_root)
    assert missing.returncode != 0 and "no bars" in (missing.stderr + missing.stdout)


class _CountingExecutorType:
    """A throwaway executor kind (registered programmatically) that counts what it creates and closes."""

    name = "counting-test"
    summary = "counts create/close"

    def __init__(self) -> None:
        from cde_core.contracts.base import NoParams

        self.Params = NoParams
        self.created: list[Any] = []
        self.closed: list[Any] = []

    def create(self, params: Any) -> Any:
        owner = self

        class _Counting:
            name = "counting-test"

            def __init__(self) -> None:
                self.inner = LocalExecutor(LocalExecutorParams(max_workers=2))

            def run(self, jobs: Any, **kwargs: Any) -> list[Any]:
                assert self not in owner.closed, "run after close"
                return self.inner.run(jobs, **kwargs)

            def close(self) -> None:
                owner.closed.append(self)

        executor = _Counting()
        self.created.append(executor)
        return executor


@pytest.fixture
def counting_executor(tmp_path: Path) -> Iterator[_CountingExecutorType]:
    from cde_core import hookimpl
    from cde_core.config import CdeConfig, ExecutorConfig, LoadedConfig, set_config
    from cde_core.plugins import get_plugins

    kind = _CountingExecutorType()

    @hookimpl
    def register_executors(register: Any) -> None:
        register(kind)

    host = get_plugins()
    name = host.register(types.SimpleNamespace(register_executors=register_executors), name="counting-test")
    set_config(LoadedConfig(config=CdeConfig(data_root=tmp_path / "lake",
                                             executor=ExecutorConfig(name="counting-test")), origins={}))
    try:
        yield kind
    finally:
        set_config(None)
        host.unregister(name)


def test_compute_to_lake_creates_one_executor_and_closes_it(tmp_path: Path, counting_executor) -> None:
    from cde_features.service import ComputeRequest, compute_to_lake

    _bars_lake(tmp_path / "lake", ["AAAUSDT", "BBBUSDT"], 24 * 12)
    result = compute_to_lake(ComputeRequest(bars="time-1h", symbols=["AAAUSDT", "BBBUSDT"],
                                            factors=["returns", "rsi", "alpha_001"]))
    assert len(result.files) == 2
    assert len(counting_executor.created) == 1
    assert counting_executor.closed == counting_executor.created

    # a calculator without an executor of its own creates one per compute call and closes it
    panel = synthetic_panel(3, 200, seed=6)
    computed = UnifiedFeatureCalculator(select=["returns", "alpha_001"]).compute(panel)
    assert len(counting_executor.created) == 2 and counting_executor.closed == counting_executor.created
    # (the executor is not a local thread pool, so results travel back as blocks: same values)
    inline = UnifiedFeatureCalculator(select=["returns", "alpha_001"], executor=EXEC).compute(panel)
    pd.testing.assert_frame_equal(computed, inline)
    files = write_features(computed, Lake(tmp_path / "lake2"), spec="t", exchange="binance", market="spot",
                           source="unit")
    assert len(files) == 3
    assert len(counting_executor.created) == 3 and counting_executor.closed == counting_executor.created


def test_analyze_from_the_lake_treats_an_outage_hour_as_a_gap(tmp_path: Path) -> None:
    """``cde features analyze`` (its service) analyses lake bars on their grid: with an hour that no
    symbol has, the 1-bar forward return before it is NaN, so that timestamp has no IC — not an IC
    against a 2-hour return."""
    from cde_features.service import AnalyzeRequest, analyze_request

    symbols = ["AAAUSDT", "BBBUSDT", "CCCUSDT", "DDDUSDT"]
    _bars_lake(tmp_path / "lake", symbols, 24 * 3)
    outage = pd.Timestamp("2024-01-02 05:00", tz="UTC")
    lake = Lake(tmp_path / "lake")
    for symbol in symbols:  # time bars (clock period_start) without the outage hour on any symbol
        for path in (lake.bars_dir("time-1h", "binance", "spot", symbol)).glob("date=*/part-0.parquet"):
            table = pq.read_table(path)
            table = table.append_column("period_start", table.column("ts"))
            keep = pa.array(table.column("ts").to_pandas() != outage)
            with atomic_path(path) as tmp:
                pq.write_table(table.filter(keep), tmp)
    result = analyze_request(AnalyzeRequest(bars="time-1h", columns=["ret_log_1"], horizons=[1, 2], quantiles=2),
                             lake=lake)
    ic = result.columns[0].ic
    before = outage - pd.Timedelta("1h")
    assert np.isnan(ic[1]["rank_ic"].get(before, np.nan))
    assert np.isfinite(ic[1]["rank_ic"].loc[before - pd.Timedelta("1h")])
    assert np.isfinite(ic[2]["rank_ic"].loc[before])  # 04:00 → 06:00 is a real 2-bar return


def test_analyze_on_too_few_symbols_says_why_instead_of_printing_nan(tmp_path: Path) -> None:
    """Two symbols have no cross-sectional IC (it needs 3) and no 5-quantile spread: the table shows
    "—" as the HTML report does (it printed a table of "nan"), and one note per reason says why."""
    _bars_lake(tmp_path / "lake", ["AAAUSDT", "BBBUSDT"], 24 * 5)
    report = tmp_path / "r.html"
    done = _cde(tmp_path, "features", "analyze", "--bars", "time-1h", "--columns", "ret_log_1",
                "--horizons", "1,4", "--report", str(report))
    assert done.returncode == 0, done.stderr
    assert "nan" not in done.stdout.lower() and "—" in done.stdout
    assert "note: the panel has 2 symbol(s): a cross-sectional IC and rank autocorrelation need at least 3" \
        in done.stdout
    assert "note: 5 quantiles need at least 5 symbols at a timestamp (the panel has 2)" in done.stdout
    assert "try --quantiles 2" in done.stdout and "need at least 3" in report.read_text()
