"""Run folders in the lake: ``<root>/runs/<run-id>/`` with config.yaml, nav.parquet,
positions.parquet, trades.parquet, contributions.parquet, metrics.json and report.html.

``metrics.json`` is a run's commit marker: a folder without it is no run (listings, ``show``, the
API and the notebook skip it). On a local disk a run is assembled in a hidden sibling folder (each
file written atomically) and renamed into place at the end, so the folder appears complete at once.
A bucket has no rename: each file is written atomically into the run's own prefix and
``metrics.json`` goes last, so a writer killed halfway leaves files no reader takes for a run
(:meth:`RunStore.save`); deleting removes the marker first, for the same reason.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from cde_backtest.metrics import Metrics
from cde_backtest.models import RunSummary
from cde_core.atomic import atomic_write_bytes, fsync_dir
from cde_core.errors import NotFoundError
from cde_core.lake import Lake
from cde_core.lake_location import LakePath, arrow_target
from cde_core.object_store import ObjectPath
from cde_core.parquet_encoding import write_parquet
from cde_core.suggest import nearest
from cde_core.visual.plotly_asset import ASSET_FOLDER, PlotlyScript, asset_name, lake_asset

RUN_FILES = ("config.yaml", "nav.parquet", "positions.parquet", "trades.parquet", "contributions.parquet",
             "metrics.json", "report.html")
#: written last: a run folder without it is unfinished (killed writer) and no reader takes it for a run
COMMIT_FILE = "metrics.json"


def new_run_id(strategy: str, label: str | None = None) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    parts = [stamp, strategy.replace("_", "-"), *([label] if label else []), uuid.uuid4().hex[:6]]
    return "-".join(parts)


def _write_parquet(path: LakePath, frame: pd.DataFrame) -> None:
    write_parquet(path, pa.Table.from_pandas(frame, preserve_index=False))


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


def metrics_from_json(data: dict[str, Any]) -> Metrics:
    fixed = {k: (float(v) if isinstance(v, str) and v in ("inf", "-inf") else v) for k, v in data.items()}
    return Metrics.model_validate({k: (math.nan if v is None else v) for k, v in fixed.items()})


@dataclass
class StoredRun:
    """A run read back from its folder."""

    run_id: str
    path: LakePath
    config: dict[str, Any]
    metrics: Metrics
    nav: pd.DataFrame
    positions: pd.DataFrame
    trades: pd.DataFrame
    contributions: pd.DataFrame

    @property
    def report(self) -> LakePath:
        return self.path / "report.html"


class RunStore:
    """Save, list, load and delete runs under ``lake.runs_dir()``."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake

    def save(self, run_id: str, *, config: dict[str, Any], metrics: Metrics, nav: pd.DataFrame,
             positions: pd.DataFrame, trades: pd.DataFrame, contributions: pd.DataFrame,
             report_html: str) -> LakePath:
        """Write every file of the run, :data:`COMMIT_FILE` last. Locally into a hidden staging folder
        renamed to the run folder at the end; in a bucket straight into the run's prefix."""
        final = self.lake.run_dir(run_id)
        self.sweep_abandoned()
        if isinstance(final, ObjectPath):
            _write_run_files(final, config=config, metrics=metrics, nav=nav, positions=positions,
                             trades=trades, contributions=contributions, report_html=report_html)
            return final
        staging = final.with_name(f".{run_id}.tmp-{uuid.uuid4().hex[:6]}")
        staging.mkdir(parents=True)
        try:
            _write_run_files(staging, config=config, metrics=metrics, nav=nav, positions=positions,
                             trades=trades, contributions=contributions, report_html=report_html)
            staging.rename(final)
            fsync_dir(final.parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return final

    def sweep_abandoned(self) -> int:
        """Remove what writers killed mid-save left: hidden staging folders on a disk, run prefixes
        without their commit file in a bucket — only once every file in them is older than
        :data:`cde_core.atomic.STALE_OBJECT_AGE_S` (a younger one may be a save in progress, here or on
        another machine). Returns how many were removed."""
        from cde_core import atomic

        runs_dir = self.lake.runs_dir()
        cutoff = time.time() - atomic.STALE_OBJECT_AGE_S
        removed = 0
        if isinstance(runs_dir, ObjectPath):
            newest: dict[ObjectPath, float] = {}
            committed: set[ObjectPath] = set()
            for path, stat in runs_dir.walk_stats():  # one listing, no request per object
                if path.parent.parent != runs_dir:
                    continue
                if path.name == COMMIT_FILE:
                    committed.add(path.parent)
                newest[path.parent] = max(newest.get(path.parent, 0.0), stat.st_mtime)
            for folder, mtime in newest.items():
                if folder not in committed and mtime < cutoff:
                    folder.remove_tree()
                    removed += 1
            return removed
        if not runs_dir.is_dir():
            return 0
        for folder in runs_dir.glob(".*.tmp-*"):
            files = [f for f in folder.rglob("*") if f.is_file()] or [folder]
            if max(f.stat().st_mtime for f in files) < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed

    def plotly_script(self) -> PlotlyScript:
        """What a report in a run folder loads plotly.js from: the lake's shared copy, two levels up
        (``runs/<id>/report.html`` → ``assets/plotly-<version>.min.js``), written here if missing."""
        lake_asset(self.lake.root)
        return PlotlyScript(f"../../{ASSET_FOLDER}/{asset_name()}")

    def path(self, run_id: str) -> LakePath:
        """The run folder, refused when it (or a link in its place) leads outside the lake."""
        folder = self.lake.run_dir(run_id)
        if not (folder / COMMIT_FILE).exists():
            runs = self.lake.runs_dir()
            known = [p.name for p in self._committed()]
            close = nearest(run_id, known)
            raise NotFoundError(f"no run '{run_id}'", where=str(runs),
                                hint=f"did you mean {' or '.join(close)}?" if close else
                                "list runs with `cde backtest ls`")
        self.lake.inside(folder)
        return folder

    def file(self, run_id: str, name: str) -> LakePath:
        """File ``name`` of a run, symlinks resolved and refused when they lead outside the lake: what
        every read of a run file goes through."""
        return self.lake.inside(self.path(run_id) / name)

    def load(self, run_id: str) -> StoredRun:
        folder = self.path(run_id)
        nav = self.table(run_id, "nav.parquet").to_pandas().set_index("ts")
        contributions = self.table(run_id, "contributions.parquet").to_pandas().set_index("symbol")
        return StoredRun(run_id=run_id, path=folder, config=self.config(run_id), metrics=self.metrics(run_id),
                         nav=nav, positions=self.table(run_id, "positions.parquet").to_pandas(),
                         trades=self.table(run_id, "trades.parquet").to_pandas(),
                         contributions=contributions)

    def table(self, run_id: str, name: str, columns: list[str] | None = None) -> pa.Table:
        """A Parquet file of a run (from a folder or a bucket), optionally only ``columns``."""
        where, filesystem = arrow_target(self.file(run_id, name))
        return pq.read_table(where, columns=columns, filesystem=filesystem)

    def config(self, run_id: str) -> dict[str, Any]:
        return yaml.safe_load(self.file(run_id, "config.yaml").read_text()) or {}

    def metrics(self, run_id: str) -> Metrics:
        return metrics_from_json(json.loads(self.file(run_id, COMMIT_FILE).read_text()))

    def _committed(self) -> list[LakePath]:
        """Run folders holding their commit file, sorted by name (in a bucket: one listing)."""
        runs_dir = self.lake.runs_dir()
        if isinstance(runs_dir, ObjectPath):
            marked = {path.parent for path, _ in runs_dir.walk_files()
                      if path.name == COMMIT_FILE and path.parent.parent == runs_dir}
            return sorted(p for p in marked if not p.name.startswith("."))
        if not runs_dir.is_dir():
            return []
        return [folder for folder in sorted(runs_dir.iterdir())
                if not folder.name.startswith(".") and (folder / COMMIT_FILE).exists()]

    def list(self) -> list[RunSummary]:
        out: list[RunSummary] = []
        for folder in self._committed():
            with contextlib.suppress(Exception):  # a foreign folder (or a link out) must not break the listing
                config = yaml.safe_load(self.lake.inside(folder / "config.yaml").read_text()) or {}
                metrics = json.loads(self.lake.inside(folder / "metrics.json").read_text())
                created = config.get("created")
                out.append(RunSummary(run_id=folder.name, strategy=config.get("request", {}).get("strategy", "?"),
                                      created=created, total_return=metrics.get("total_return"),
                                      sharpe=_num(metrics.get("sharpe")),
                                      max_drawdown=metrics.get("max_drawdown")))
        return out

    def delete(self, run_id: str) -> None:
        folder = self.path(run_id)
        if isinstance(folder, ObjectPath):  # the marker first: the run leaves listings in one step
            (folder / COMMIT_FILE).unlink(missing_ok=True)
            folder.remove_tree()
            return
        trash = folder.with_name(f".{run_id}.deleted-{uuid.uuid4().hex[:6]}")
        folder.rename(trash)  # disappear atomically, then clean up
        shutil.rmtree(trash, ignore_errors=True)


def _write_run_files(folder: LakePath, *, config: dict[str, Any], metrics: Metrics, nav: pd.DataFrame,
                     positions: pd.DataFrame, trades: pd.DataFrame, contributions: pd.DataFrame,
                     report_html: str) -> None:
    """Each file atomically, the commit file (:data:`COMMIT_FILE`) last."""
    atomic_write_bytes(folder / "config.yaml", yaml.safe_dump(config, sort_keys=False, allow_unicode=True).encode())
    _write_parquet(folder / "nav.parquet", nav.reset_index())
    _write_parquet(folder / "positions.parquet", positions)
    _write_parquet(folder / "trades.parquet", trades)
    _write_parquet(folder / "contributions.parquet", contributions.reset_index())
    atomic_write_bytes(folder / "report.html", report_html.encode())
    atomic_write_bytes(folder / COMMIT_FILE, json.dumps(_json_safe(metrics.model_dump()), indent=2).encode())


def _num(value: Any) -> float | None:
    if isinstance(value, str):
        return float(value)
    return value
