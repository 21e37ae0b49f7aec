"""The ``cde`` command on a Dask cluster, with settings a user gets wrong or that only work on one
machine: a relative data root (the workers run in another folder) and a malformed scheduler address.

Uses the session's shared LocalCluster, whose worker processes run in pytest's working directory,
never in the client's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cde_core.config import CdeConfig
from cde_core.lake import Lake

CDE = [sys.executable, "-m", "cde_server.cli.main"]


def cde(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {name: value for name, value in os.environ.items() if not name.startswith("CDE_")}
    environ.update({"CDE_CONFIG": "", "CDE_EXECUTOR": "dask", **env})
    return subprocess.run([*CDE, *args], env=environ, cwd=cwd, capture_output=True, text=True, check=False)


def aggregate_args(trades: Any) -> list[str]:
    return ["aggregate", "--bar", "time", "--interval", "5m", "--exchange", "binance", "--market", "spot",
            "--symbols", ",".join(trades.symbols[:2]), "--start", trades.days[0].isoformat(),
            "--end", trades.days[1].isoformat()]


def test_a_relative_data_root_is_the_clients_folder_on_every_worker(cluster: Any, synthetic_trades: Any,
                                                                      tmp_path: Path) -> None:
    """Workers run in another folder: with the root passed on as given, they read an empty lake there
    and the command reported "no-data" with exit 0."""
    pytest.importorskip("cde_bars.aggregate")
    client_dir = tmp_path / "client"
    lake = synthetic_trades.write(Lake(client_dir / "lake-relative"))
    assert Path.cwd() != client_dir
    done = cde(aggregate_args(synthetic_trades), client_dir, CDE_DATA_ROOT="lake-relative",
               CDE_DASK_SCHEDULER=cluster.scheduler_address)
    assert done.returncode == 0, done.stderr
    assert "no-data" not in done.stdout, done.stdout
    for symbol in synthetic_trades.symbols[:2]:
        assert list((lake.root / "bars").rglob(f"symbol={symbol}/**/*.parquet")), done.stdout
    assert not (Path.cwd() / "lake-relative").exists()


def test_every_way_into_a_lake_makes_a_relative_folder_absolute(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The config, the core ``Lake`` and the notebook ``Lake`` hand jobs the same absolute folder."""
    monkeypatch.chdir(tmp_path)
    assert CdeConfig(data_root="lake").data_root == tmp_path / "lake"
    assert Lake("lake").root == tmp_path / "lake"
    assert Lake(Path("lake")).root == tmp_path / "lake"
    notebook = pytest.importorskip("cde.notebook_lake")
    assert notebook.Lake("lake").root == tmp_path / "lake"
    assert str(Lake("s3://bucket/lake").root) == "s3://bucket/lake"


@pytest.mark.parametrize(("address", "named"), [
    ("dsk://127.0.0.1:8786", "'dsk'"),
    ("http://127.0.0.1:8787", "'http'"),
    ("tcp://127.0.0.1", "missing port"),
    ("tcp://127.0.0.1:port", "malformed"),
    ("tcp://127.0.0.1:99999", "invalid port"),
])
def test_a_malformed_scheduler_address_is_one_line_naming_it(address: str, named: str, synthetic_trades: Any,
                                                             tmp_path: Path) -> None:
    pytest.importorskip("cde_bars.aggregate")
    synthetic_trades.write(Lake(tmp_path / "lake"))
    done = cde(aggregate_args(synthetic_trades), tmp_path, CDE_DATA_ROOT=str(tmp_path / "lake"),
               CDE_DASK_SCHEDULER=address)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert lines[0].startswith("error:") and "internal error" not in lines[0], lines[0]
    assert address in lines[0] and named in lines[0] and "CDE_DASK_SCHEDULER" in lines[0], lines[0]
    assert "tcp://host:port" in lines[0], lines[0]
