"""The plugin is wired: builders registered through the entry point, `cde aggregate`, the REST routes."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import pytest
from cde_bars_lake import write_trades_lake

from cde_core.config import load_config, set_config
from cde_core.lake import Lake
from cde_core.plugins import get_plugins
from cde_core.testing.s3_server import S3Server


def test_every_builder_is_registered_through_the_entry_point() -> None:
    names = get_plugins().bar_builders.names()
    assert {"time", "tick", "volume", "dollar", "tick_imbalance", "volume_imbalance", "dollar_imbalance",
            "tick_run", "volume_run", "dollar_run"} <= set(names)
    assert get_plugins().bar_builders.entry("dollar").distribution == "cde-bars"


def test_registering_builders_loads_no_heavy_module() -> None:
    """The plugin module runs on every `cde` call: Numba, numpy and pyarrow load on first use."""
    import os
    import subprocess

    code = ("import sys; from cde_core.plugins import get_plugins; "
            "assert get_plugins().bar_builders.names(); "
            "print(sorted(m for m in ('numba', 'numpy', 'pyarrow') if m in sys.modules))")
    env = {**os.environ, "CDE_LOAD_PLUGINS": "bars"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "[]"


@pytest.fixture()
def lake_config(lake_root: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A small trades lake as the configured data_root, on a local folder and in a bucket."""
    lake = Lake(lake_root)
    write_trades_lake(lake, "BTCUSDT", [date(2024, 1, 1), date(2024, 1, 2)], n=2000)
    monkeypatch.setenv("CDE_DATA_ROOT", str(lake.root))
    monkeypatch.setenv("CDE_CONFIG", "")
    monkeypatch.chdir(tmp_path)  # no stray ./cde.yaml
    set_config(load_config(use_file=False))
    yield lake
    set_config(None)


def test_cli_aggregate_writes_the_bars_lake(lake_config: Lake) -> None:
    cli = pytest.importorskip("cde_server.cli.main")
    args = ["aggregate", "--bar", "dollar", "--threshold", "1e4", "--exchange", "binance", "--market", "spot",
            "--symbols", "BTCUSDT", "--start", "2024-01-01", "--end", "2024-01-02", "--json"]
    assert cli.run(args, debug=False) == 0
    spec_dir = lake_config.root / "bars" / "spec=dollar-10000"
    assert list(spec_dir.glob("exchange=binance/market=spot/symbol=BTCUSDT/month=2024-01/part-0.parquet"))
    bad = ["aggregate", "--bar", "dollar", "--exchange", "binance", "--market", "spot",
           "--symbols", "BTCUSDT",
           "--start", "2024-01-01", "--end", "2024-01-02"]
    assert cli.run(bad, debug=False) == 1  # missing threshold: one clear error line, exit 1


class _Handlers:
    """The part of a TaskSubmitter ``add_routes`` uses (this test submits no task)."""

    def __init__(self) -> None:
        self.kinds: dict[str, object] = {}

    def register_handler(self, kind: str, handler: object, *, pool: str = "thread") -> None:
        self.kinds[kind] = handler


def test_rest_routes_list_builders_and_reject_bad_params(lake_config: Lake) -> None:
    fastapi = pytest.importorskip("fastapi")
    testclient = pytest.importorskip("fastapi.testclient")
    from cde_bars.api import add_routes

    app = fastapi.FastAPI()
    app.state.tasks, app.state.lake = _Handlers(), lake_config
    add_routes(app)
    assert "bars.aggregate" in app.state.tasks.kinds  # re-run after a restart: aggregation resumes
    client = testclient.TestClient(app, raise_server_exceptions=False)
    builders = client.get("/bars/builders").json()
    assert "dollar_run" in {b["name"] for b in builders}
    body = {"bar": "dollar", "params": {"threshold": 0}, "exchange": "binance", "market": "spot",
            "symbols": ["BTCUSDT"], "start": "2024-01-01", "end": "2024-01-02"}
    assert client.post("/bars/aggregate", json=body).status_code >= 400
    from cde_bars import AggregateRequest, aggregate_lake

    report = aggregate_lake(AggregateRequest(**{**body, "params": {"threshold": 1e4}}))
    rows = client.get(f"/bars/{report.spec_id}/binance/spot/BTCUSDT", params={"limit": 3}).json()
    assert len(rows) == 3 and json.dumps(rows)


def test_cli_aggregate_on_bad_trades_is_one_line_naming_symbol_day_and_file(
        lake_config: Lake, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np
    import pyarrow as pa
    from cde_bars_lake import random_day

    from cde_core.lake import Provenance

    cli = pytest.importorskip("cde_server.cli.main")
    day = random_day(date(2024, 1, 3), 2000, seed=5, first_id=4001)
    qty = day.column("qty").to_numpy().copy()
    qty[1500] = np.nan
    day = day.set_column(day.schema.get_field_index("qty"), "qty", pa.array(qty))
    target = lake_config.trades_dir("binance", "spot", "BTCUSDT", date(2024, 1, 3))
    lake_config.write_partition(target, day, Provenance(source="test", rows=day.num_rows))
    args = ["aggregate", "--bar", "volume", "--threshold", "50", "--exchange", "binance", "--market", "spot",
            "--symbols", "BTCUSDT", "--start", "2024-01-01", "--end", "2024-01-03"]
    capsys.readouterr()
    assert cli.run(args, debug=False) == 1
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and "internal error" not in err
    line = next(x for x in err.splitlines() if "non-finite qty" in x)
    assert "row 1500" in line and "BTCUSDT" in line and "day 2024-01-03" in line and "date=2024-01-03" in line
    misspelt = ["aggregate", "--bar", "dollar", "-p", "treshold=1e4", "--exchange", "binance",
                "--market", "spot", "--symbols", "BTCUSDT", "--start", "2024-01-01", "--end", "2024-01-02"]
    assert cli.run(misspelt, debug=False) == 1
    assert "did you mean threshold" in capsys.readouterr().err


def test_cli_aggregate_in_a_subprocess_writes_the_same_bars_to_a_bucket(
        s3_server: S3Server, s3_lake_url: str, tmp_path: Path) -> None:
    """`cde aggregate` as a user runs it (a child process, CDE_DATA_ROOT=s3://…, AWS_* from the
    environment) writes the bars one in-process run writes to a local folder."""
    import os
    import subprocess

    import pandas as pd

    from cde_bars import AggregateRequest, aggregate_lake, read_bars
    from cde_core.local_executor import LocalExecutor, LocalExecutorParams

    days = [date(2024, 1, 31), date(2024, 2, 1)]
    disk, bucket = Lake(tmp_path / "lake"), Lake(s3_lake_url)
    for lake in (disk, bucket):
        write_trades_lake(lake, "BTCUSDT", days, n=2000, seed=7)
    env = {**os.environ, **s3_server.env, "CDE_DATA_ROOT": s3_lake_url, "CDE_CONFIG": "",
           "CDE_CACHE_DIR": str(tmp_path / "cache")}
    args = ["aggregate", "--bar", "volume", "--threshold", "40", "--exchange", "binance", "--market", "spot",
            "--symbols", "BTCUSDT", "--start", "2024-01-31", "--end", "2024-02-01"]
    done = subprocess.run([sys.executable, "-m", "cde_server.cli.main", *args], capture_output=True,
                          text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "s3:").exists()  # nothing written to a local folder named after the URL
    report = aggregate_lake(AggregateRequest(bar="volume", params={"threshold": 40}, exchange="binance",
                                             market="spot", symbols=["BTCUSDT"], start=days[0], end=days[1]),
                            lake=disk, executor=LocalExecutor(LocalExecutorParams(kind="thread")))
    got = read_bars(bucket, report.spec_id, "binance", "spot", "BTCUSDT")
    assert len(got) > 10
    pd.testing.assert_frame_equal(got, read_bars(disk, report.spec_id, "binance", "spot", "BTCUSDT"))


@pytest.mark.parametrize("extra", [["--threshold", "inf"], ["--threshold", "1e4", "-p", "bars_per_day=inf"],
                                   ["--threshold", "-inf"]])
def test_cli_aggregate_refuses_an_infinite_threshold_in_one_line(
        lake_config: Lake, capsys: pytest.CaptureFixture[str], extra: list[str]) -> None:
    """It was 'internal error: OverflowError: cannot convert float infinity to integer', exit 2."""
    cli = pytest.importorskip("cde_server.cli.main")
    args = ["aggregate", "--bar", "dollar", *extra, "--exchange", "binance", "--market", "spot",
            "--symbols", "BTCUSDT", "--start", "2024-01-01", "--end", "2024-01-02"]
    capsys.readouterr()
    assert cli.run(args, debug=False) == 1
    err = capsys.readouterr().err.strip()
    assert "internal error" not in err and "finite number" in err and len(err.splitlines()) == 1


def test_cli_aggregate_refuses_a_threshold_day_given_as_a_local_midnight(
        lake_config: Lake, capsys: pytest.CaptureFixture[str]) -> None:
    """A key at a Tokyo midnight (15:00 UTC the day before) was read as the local day."""
    cli = pytest.importorskip("cde_server.cli.main")
    args = ["aggregate", "--bar", "tick", "--threshold", "50", "-p",
            "thresholds={2024-01-02T00:00:00+09:00: 20}", "--exchange", "binance", "--market", "spot",
            "--symbols", "BTCUSDT", "--start", "2024-01-01", "--end", "2024-01-02"]
    capsys.readouterr()
    assert cli.run(args, debug=False) == 1
    err = capsys.readouterr().err.strip()
    assert "2024-01-01 15:00 UTC" in err and "internal error" not in err and len(err.splitlines()) == 1
    assert not (lake_config.root / "bars").exists()
