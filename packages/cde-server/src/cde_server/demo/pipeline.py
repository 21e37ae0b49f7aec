"""The demo's steps, each one `cde` command exactly as a user would type it.

Every step is idempotent and resumable (complete archive files, verified lake partitions and built
bars are kept), so a second run — or a run after the first was killed — finishes the same lake.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import yaml
from pydantic import BaseModel
from rich.console import Console

from cde_core.atomic import atomic_write_bytes
from cde_core.errors import CdeError, NotFoundError
from cde_core.lake_location import LakePath
from cde_server.demo.archive_server_process import served_archive
from cde_server.demo.settings import DemoSettings

Invoke = Callable[[list[str]], int]

TIME_BARS = "time-1h"
DOLLAR_BARS = "dollar-bpd24-w7-init1000000"  # the spec id `cde aggregate` gives the dollar step's parameters
FEATURES = f"default__{TIME_BARS}"
#: the specs the demo builds from its trades: ``(tree, spec)``
DERIVED_SPECS = (("bars", TIME_BARS), ("bars", DOLLAR_BARS), ("features", FEATURES))
RUN_NAME = "demo-momentum"


class DemoResult(BaseModel):
    run_dir: str
    report: str
    seconds: float
    resumed: bool


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the steps (the CDE_* layer of every step's config)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def write_run_config(settings: DemoSettings, universe_file: Path, target: Path) -> Path:
    """run.yaml for `cde backtest run`: momentum_ls, weekly rebalance, 5 bp taker fees and the
    point-in-time universe computed from the lake."""
    table = pq.read_table(universe_file, columns=["date", "symbol"]).to_pylist()
    universe: dict[str, list[str]] = {}
    for row in table:
        universe.setdefault(str(row["date"])[:10], []).append(row["symbol"])
    config = {
        "name": RUN_NAME,
        "strategy": "momentum_ls",
        "params": {"factor": settings.momentum_factor, "n_long": 2, "n_short": 2},
        "engine": {"rebalance": {"every": "week", "weekday": 0, "hour": 0}, "costs": {"taker_bp": 5}},
        "bars": TIME_BARS, "features": FEATURES, "exchange": "binance", "market": "spot",
        "start": settings.start.isoformat(), "end": settings.end.isoformat(), "universe": universe,
    }
    atomic_write_bytes(target, yaml.safe_dump(config, sort_keys=False).encode())
    return target


def latest_run(lake: LakePath) -> LakePath:
    runs = [p for p in (lake / "runs").glob(f"*{RUN_NAME}*") if (p / "metrics.json").exists()]
    if not runs:
        raise NotFoundError("the backtest wrote no run folder", where=str(lake / "runs"))
    return max(runs, key=lambda p: p.stat().st_mtime)


@dataclass(frozen=True)
class DemoStep:
    """One step: a title for the user, its top-level `cde` command (known up front, so the demo names
    missing stages before any work) and the `cde` arguments, built when the step starts (the
    backtest's run.yaml needs the universe the step before wrote); ``args()[0] == command``."""

    title: str
    command: str
    args: Callable[[], list[str]]
    needs_archive_server: bool = False


def demo_steps(settings: DemoSettings) -> list[DemoStep]:
    symbols = ",".join(settings.symbol_list)
    days = ["--start", settings.start.isoformat(), "--end", settings.end.isoformat()]
    market = ["--exchange", "binance", "--market", "spot"]
    universe_file = settings.work / "universe.parquet"
    synthetic = settings.source == "synthetic"
    steps: list[DemoStep] = []
    if synthetic:
        steps.append(DemoStep(
            f"generate a market of {settings.symbols} symbols × {settings.days} days in Binance's archive format",
            "exchanges",
            lambda: ["exchanges", "make-archive", "--root", str(settings.archive), "--symbols", symbols, *days,
                     "--layout", "monthly", "--trades-per-day", str(settings.trades_per_day),
                     "--seed", str(settings.seed)]))
    steps += [
        DemoStep("download trades over HTTP, verify checksums, write the Parquet lake", "download",
                 lambda: ["download", *market, "--kind", "trades", "--symbols", symbols, *days],
                 needs_archive_server=synthetic),
        DemoStep(f"point-in-time asset pool: top {settings.universe_size} by trailing 7-day quote volume",
                 "universe",
                 lambda: ["universe", "pit", *market, *days, "--n", str(settings.universe_size),
                          "--rebalance", "weekly", "--out", str(universe_file)]),
        DemoStep("1 h time bars", "aggregate",
                 lambda: ["aggregate", "--bar", "time", "--interval", "1h", *market, "--symbols", symbols, *days]),
        DemoStep("dollar bars (dynamic threshold: 24 bars a day from the trailing week)", "aggregate",
                 lambda: ["aggregate", "--bar", "dollar", "--threshold", "1e6", "--bars-per-day", "24",
                          "--window-days", "7", *market, "--symbols", symbols, *days]),
        DemoStep("the default feature set on 1 h bars", "features",
                 lambda: ["features", "compute", "--bars", TIME_BARS, *market, *days]),
        DemoStep("momentum_ls backtest: weekly rebalance, long 2 / short 2, 5 bp fees", "backtest",
                 lambda: ["backtest", "run", "--config",
                          str(write_run_config(settings, universe_file, settings.work / "run.yaml"))]),
    ]
    return steps


def forget_another_range(settings: DemoSettings, console: Console) -> None:
    """Remove the demo's own bars and features specs when they were built for other days or symbols.

    `cde aggregate` and `cde features compute` refuse to rewrite a spec with fewer days than it holds
    (that would silently drop good rows), so `cde demo --days 40` after a 91-day demo would stop at its
    bars step. The demo owns these specs and rebuilds them in its next steps; trades days stay."""
    marker = settings.work / "built-for.json"
    wanted = {"start": settings.start.isoformat(), "end": settings.end.isoformat(), "symbols": settings.symbol_list}
    try:
        held = json.loads(marker.read_text()) if marker.exists() else None
    except (OSError, ValueError):
        held = None
    if held != wanted and settings.lake.exists():
        removed = []
        for tree, spec in DERIVED_SPECS:
            folder = settings.lake / tree / f"spec={spec}"
            if folder.exists():
                remove_tree(folder)
                removed.append(f"{tree} {spec}")
        if removed:
            console.print(f"built for other days or symbols, rebuilt now: {', '.join(removed)}")
    atomic_write_bytes(marker, json.dumps(wanted).encode())


def remove_tree(folder: LakePath) -> None:
    if isinstance(folder, Path):
        shutil.rmtree(folder)
    else:
        folder.remove_tree()


def run_pipeline(settings: DemoSettings, invoke: Invoke, console: Console) -> DemoResult:
    """Run every step in order; a failing step stops the demo with one line (the rest is resumable)."""
    started = time.perf_counter()
    resumed = settings.lake.exists()
    forget_another_range(settings, console)
    steps = demo_steps(settings)
    env = {"CDE_DATA_ROOT": str(settings.lake)}
    with ExitStack() as stack:
        for index, step in enumerate(steps, start=1):
            console.rule(f"[bold][{index}/{len(steps)}][/] {step.title}")
            if step.needs_archive_server and "CDE_DOWNLOAD__BINANCE_ARCHIVE_URL" not in env:
                env["CDE_DOWNLOAD__BINANCE_ARCHIVE_URL"] = stack.enter_context(served_archive(settings.archive))
                console.print(f"local archive server: {env['CDE_DOWNLOAD__BINANCE_ARCHIVE_URL']}")
            step_started = time.perf_counter()
            with environment(env):
                args = step.args()
                code = invoke(args)
            if code:
                raise CdeError(f"demo step {index} failed: `cde {args[0]}` exited with {code}",
                               hint="fix the error above and run `cde demo` again: it resumes")
            console.print(f"[dim]step {index} took {time.perf_counter() - step_started:.1f} s[/]")
    run_dir = latest_run(settings.lake)
    return DemoResult(run_dir=str(run_dir), report=str(run_dir / "report.html"), seconds=time.perf_counter() - started,
                      resumed=resumed)
