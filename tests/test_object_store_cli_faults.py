"""Faults of a lake in a bucket met through the real ``cde`` CLI (subprocesses against the loopback S3
server): each must be one line saying what, where and what to do, exit 1, no traceback — never an
internal error, never exit 0, never a silently different place.

- a damaged or foreign ``part-0.parquet`` under the bars tree met by a dataset scan (features, backtest);
- a data root with a slash missing (``s3:/bucket/lake``), which would otherwise be a local folder ``s3:``;
- a misspelt bucket or prefix, named with the nearest present.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cde_core.lake import Lake, Provenance
from cde_core.object_store import ObjectPath
from cde_core.testing.s3_server import S3Server
from cde_core.testing.synthetic import hourly_time_bars

HOURS = 24 * 10


def write_bars(lake: Lake, symbols: list[str]) -> None:
    """Ten days of random-walk 1 h bars per symbol (seeded), under bar spec ``time-1h``."""
    rng = np.random.default_rng(3)
    for symbol in symbols:
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, HOURS)))
        table = hourly_time_bars(close, rng.uniform(1, 10, HOURS))
        lake.write_partition(lake.bars_dir("time-1h", "binance", "spot", symbol) / "month=2024-03", table,
                             Provenance(source="test", rows=HOURS))


def cde(s3_server: S3Server, tmp_path: Path, data_root: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDE_", "AWS_"))}
    env.update({**s3_server.env, "CDE_DATA_ROOT": data_root, "CDE_CACHE_DIR": str(tmp_path / "cache")})
    return subprocess.run([sys.executable, "-m", "cde_server.cli.main", *args], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=600, check=False)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize("content", [b"", b"garbage, not parquet"], ids=["zero-byte", "garbage"])
def test_a_damaged_bars_object_stops_features_and_backtest_naming_it(s3_server: S3Server, s3_lake_url: str,
                                                                     tmp_path: Path, content: bytes) -> None:
    lake = Lake(s3_lake_url)
    write_bars(lake, ["AAAUSDT", "BBBUSDT"])
    bad = lake.bars_dir("time-1h", "binance", "spot", "BBBUSDT") / "month=2024-02" / "part-0.parquet"
    assert isinstance(bad, ObjectPath)
    bad.write_bytes(content)  # a foreign or half-copied object where a partition belongs
    said = one_line_error(cde(s3_server, tmp_path, s3_lake_url, "features", "compute", "--bars", "time-1h",
                              "--factors", "returns"))
    assert "unreadable Parquet file" in said and "symbol=BBBUSDT/month=2024-02/part-0.parquet" in said
    assert not (lake.root / "features").exists()  # nothing written from it
    run = tmp_path / "run.yaml"
    run.write_text("strategy: trend_following\nparams: {fast: 6, slow: 24}\nbars: time-1h\n"
                   "exchange: binance\nmarket: spot\n")
    said = one_line_error(cde(s3_server, tmp_path, s3_lake_url, "backtest", "run", "--config", str(run)))
    assert "unreadable Parquet file" in said and "symbol=BBBUSDT/month=2024-02/part-0.parquet" in said
    assert not (lake.root / "runs").exists()  # no run committed from damaged input


def test_a_data_root_missing_a_slash_is_refused_not_made_a_local_folder(s3_server: S3Server, s3_lake_url: str,
                                                                        tmp_path: Path) -> None:
    bucket = ObjectPath(s3_lake_url).bucket
    said = one_line_error(cde(s3_server, tmp_path, f"s3:/{bucket}/lake", "import", "trades", "--help"))
    assert f"write s3://{bucket}/lake" in said
    said = one_line_error(cde(s3_server, tmp_path, f"s3:/{bucket}/lake", "lake", "ls"))
    assert f"write s3://{bucket}/lake" in said
    assert not (tmp_path / "s3:").exists()


def test_a_misspelt_bucket_or_prefix_names_the_nearest(s3_server: S3Server, s3_lake_url: str,
                                                       tmp_path: Path) -> None:
    write_bars(Lake(s3_lake_url), ["AAAUSDT"])
    bucket = ObjectPath(s3_lake_url).bucket
    said = one_line_error(cde(s3_server, tmp_path, s3_lake_url[:-1] + "k", "features", "compute", "--bars", "time-1h"))
    assert f"the lake {s3_lake_url[:-1]}k does not exist" in said and f"did you mean {s3_lake_url}?" in said
    typo = bucket[:-1] + ("z" if bucket[-1] != "z" else "y")
    said = one_line_error(cde(s3_server, tmp_path, s3_lake_url.replace(bucket, typo), "features", "compute",
                              "--bars", "time-1h"))
    assert f"the bucket '{typo}'" in said and bucket in said


def test_serve_refuses_a_lake_whose_bucket_does_not_exist(s3_server: S3Server, s3_lake_url: str,
                                                          tmp_path: Path) -> None:
    """Else every listing answers an empty lake (200, []) and every write fails: a silent misconfiguration."""
    from cde_core.testing.ports import free_port

    bucket = ObjectPath(s3_lake_url).bucket
    typo = bucket[:-1] + ("z" if bucket[-1] != "z" else "y")
    said = one_line_error(cde(s3_server, tmp_path, s3_lake_url.replace(bucket, typo), "serve", "--host",
                              "127.0.0.1", "--port", str(free_port())))
    assert f"the bucket '{typo}'" in said and "did you mean" in said and bucket in said
