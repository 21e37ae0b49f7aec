"""`cde demo` end to end on a small market, in fresh processes: the run's metrics and report exist and
agree with its NAV file; a second run resumes; a run killed midway then re-run gives the same result."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.e2e

SMALL = ["--symbols", "5", "--days", "40", "--trades-per-day", "600", "--start", "2024-01-20"]


def demo_command(root: Path) -> list[str]:
    return [sys.executable, "-m", "cde_server.cli.main", "demo", "--data-root", str(root), *SMALL]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CDE_")}


def run_demo(root: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(demo_command(root), capture_output=True, text=True, env=clean_env(), timeout=900,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def run_folder(result: subprocess.CompletedProcess[str]) -> Path:
    line = next(line for line in result.stdout.splitlines() if line.startswith("run folder:"))
    return Path(line.split(":", 1)[1].strip())


def metrics_of(run: Path) -> dict[str, float]:
    return json.loads((run / "metrics.json").read_text())


def archive_servers_of(root: Path, within_s: float) -> list[int]:
    """Pids of `cde exchanges serve-archive` processes serving ``root`` still alive after ``within_s``."""
    deadline = time.monotonic() + within_s
    while True:
        alive = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
                 and _cmdline(p).count(str(root / "archive")) and "serve-archive" in _cmdline(p)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    root = tmp_path_factory.mktemp("demo") / "data"
    return root, run_demo(root)


def test_demo_writes_a_run_whose_metrics_agree_with_its_nav(first_run) -> None:  # type: ignore[no-untyped-def]
    _, result = first_run
    run = run_folder(result)
    assert (run / "report.html").stat().st_size > 100_000  # plotly.js is inlined: works offline
    assert "plotly" in (run / "report.html").read_text()[:200_000].lower()
    nav = pq.read_table(run / "nav.parquet").to_pandas()
    trades = pq.read_table(run / "trades.parquet").to_pandas()
    metrics = metrics_of(run)
    assert metrics["n_trades"] == len(trades) > 0  # cross-sectional: symbols share the bar clock
    assert trades["ts"].min() > nav["ts"].iloc[0]  # warm-up: nothing traded on the first bar
    values = nav["nav"].to_numpy()
    assert math.isclose(metrics["total_return"], values[-1] / values[0] - 1, rel_tol=1e-9, abs_tol=1e-12)
    drawdown = 1 - values / nav["nav"].cummax().to_numpy()
    assert math.isclose(metrics["max_drawdown"], drawdown.max(), rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(metrics["total_fees"], trades["fee"].sum(), rel_tol=1e-9)
    assert nav["ts"].iloc[-1].strftime("%Y-%m-%d") == "2024-02-28"  # the last day is included
    assert "total time:" in result.stdout
    assert "Warning" not in result.stderr, result.stderr[-3000:]  # e.g. pandas' PerformanceWarning


def test_second_run_resumes_and_reproduces_the_metrics(first_run) -> None:  # type: ignore[no-untyped-def]
    root, result = first_run
    again = run_demo(root)
    assert "resuming the demo" in again.stderr
    assert "0 files written" in again.stdout and "0 downloaded" in again.stdout
    assert metrics_of(run_folder(again)) == metrics_of(run_folder(result))


def test_killed_midway_then_rerun_gives_the_same_result(first_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, reference = first_run
    root = tmp_path / "data"
    process = subprocess.Popen(demo_command(root), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=clean_env())
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        if any((root / "lake" / "trades").rglob("part-0.parquet")):  # mid-download
            break
        time.sleep(0.05)
    assert process.poll() is None, "the demo finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (root / "lake" / "runs").exists()
    assert not archive_servers_of(root, within_s=10), "the killed demo left its archive server running"
    rerun = run_demo(root)
    assert metrics_of(run_folder(rerun)) == metrics_of(run_folder(reference))


def test_the_demo_with_its_lake_in_a_bucket_gives_the_same_run(first_run, s3_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The whole pipeline on ``s3://`` (moto on loopback, pyarrow's real S3 client): download, aggregate,
    features and backtest write the bucket, the metrics equal the run on a folder, a re-run resumes."""
    from cde_core.lake_location import arrow_target, lake_location

    _, reference = first_run
    url = f"s3://{s3_server.create_bucket()}/demo"
    env = {**clean_env(), **s3_server.env, "CDE_CACHE_DIR": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "cde_server.cli.main", "demo", "--data-root", url, *SMALL]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("run folder:"))
    run_url = line.split(":", 1)[1].strip()
    assert run_url.startswith(f"{url}/lake/runs/")
    old = dict(os.environ)
    os.environ.update(s3_server.env)
    try:
        run = lake_location(run_url)
        metrics = json.loads((run / "metrics.json").read_text())
        where, filesystem = arrow_target(run / "nav.parquet")
        nav = pq.read_table(where, filesystem=filesystem).to_pandas()
        assert (run / "report.html").stat().st_size > 10_000
    finally:
        os.environ.clear()
        os.environ.update(old)
    assert metrics == metrics_of(run_folder(reference))
    values = nav["nav"].to_numpy()
    assert math.isclose(metrics["total_return"], values[-1] / values[0] - 1, rel_tol=1e-9, abs_tol=1e-12)
    assert not any(tmp_path.rglob("part-0.parquet")), "lake partitions went to a local folder"
    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800, check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "0 downloaded" in again.stdout


def test_the_demo_builds_exactly_the_specs_it_knows_it_owns(first_run) -> None:  # type: ignore[no-untyped-def]
    """The demo removes its own specs when asked for other days; its list must name what it builds."""
    from cde_server.demo.pipeline import DERIVED_SPECS

    root, _ = first_run
    built = {(tree, p.name.removeprefix("spec=")) for tree in ("bars", "features")
             for p in (root / "lake" / tree).iterdir()}
    assert built == set(DERIVED_SPECS)


def test_a_demo_over_fewer_days_after_a_longer_one_rebuilds_its_bars(first_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`cde demo --days 37` on the lake of a 40-day demo stopped at its bars step: aggregate refuses to
    rewrite months with fewer days than they hold. The demo owns those specs and rebuilds them for the
    days asked; the trades stay and nothing is downloaded again."""
    import shutil

    source, _ = first_run
    root = tmp_path / "data"
    shutil.copytree(source, root)
    shorter = [*SMALL[:SMALL.index("--days")], "--days", "37", *SMALL[SMALL.index("--days") + 2:]]
    command = [sys.executable, "-m", "cde_server.cli.main", "demo", "--data-root", str(root), *shorter]
    result = subprocess.run(command, capture_output=True, text=True, env=clean_env(), timeout=900, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "built for other days or symbols, rebuilt now: bars time-1h" in result.stderr
    assert "0 downloaded" in result.stdout
    bars = pq.read_table(root / "lake" / "bars" / "spec=time-1h").to_pandas()
    assert str(bars["ts"].max().date()) == "2024-02-25"  # 2024-01-20 + 36 days: no bar of the longer run left
