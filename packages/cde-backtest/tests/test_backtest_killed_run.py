"""A backtest killed while it saves its run leaves nothing a reader takes for a run — on a local lake
(hidden staging folder, renamed at the end) and in a bucket (files first, ``metrics.json`` last)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from cde_backtest.run_store import COMMIT_FILE, RUN_FILES, RunStore
from cde_core.errors import NotFoundError
from cde_core.lake import Lake, Provenance
from cde_core.object_store import ObjectPath
from cde_core.schemas import BARS_SCHEMA, PERIOD_START

REQUEST = {"strategy": "trend_following", "params": {"fast": 5, "slow": 20}, "bars": "time-1h",
           "exchange": "binance", "market": "um"}

#: runs a backtest in a child process that stops — and waits to be killed — at the commit file, after
#: every other file of the run is written; it prints the folder it was writing into
STALL_AT_COMMIT = """
import json, signal, sys
from cde_backtest import run_store
from cde_backtest.models import BacktestRequest
from cde_backtest.service import run_backtest
from cde_core.lake import Lake

real = run_store.atomic_write_bytes

def stalling(target, data):
    if target.name == run_store.COMMIT_FILE:
        print(target.parent, flush=True)
        signal.pause()  # until the test's SIGKILL
    real(target, data)

run_store.atomic_write_bytes = stalling
run_backtest(BacktestRequest.model_validate(json.loads(sys.argv[2])), Lake(sys.argv[1]))
"""


def write_bars(lake: Lake, panel: pd.DataFrame) -> None:
    for symbol, bars in panel.groupby(level="symbol"):
        ts = pa.array(bars.index.get_level_values("ts"), BARS_SCHEMA.field("ts").type)
        n = len(bars)
        table = pa.table({
            "ts": ts, "ts_close": ts, **{c: pa.array(bars[c].to_numpy(), pa.float64()) for c in
                                         ("open", "high", "low", "close", "volume", "quote_volume")},
            "vwap": pa.array(bars["close"].to_numpy(), pa.float64()), "n_trades": pa.array(np.full(n, 5), pa.int64()),
            "buy_volume": pa.array(bars["volume"].to_numpy() / 2),
            "buy_quote_volume": pa.array(bars["quote_volume"].to_numpy() / 2),
            "first_trade_id": pa.array(np.arange(n), pa.int64()), "last_trade_id": pa.array(np.arange(n), pa.int64()),
            PERIOD_START: ts})
        lake.write_partition(lake.bars_dir("time-1h", "binance", "um", str(symbol)) / "month=2024-01", table,
                             Provenance(source="test", rows=n))


def run_killed_at_its_commit(lake: Lake, where: str) -> Path | ObjectPath:
    """Start a backtest run in a child, SIGKILL it once every file but the commit file is written;
    the folder it was saving into."""
    # the child inherits this process's environment: the AWS variables of the loopback server included
    child = subprocess.Popen([sys.executable, "-c", STALL_AT_COMMIT, str(lake.root), json.dumps(REQUEST)],
                             stdout=subprocess.PIPE, text=True)
    try:
        folder_line = child.stdout.readline().strip()  # type: ignore[union-attr]
        assert folder_line, "the child ended before it reached the commit file"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    return ObjectPath(folder_line) if where == "s3" else Path(folder_line)


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_run_killed_before_its_commit_file_is_never_listed_as_a_run(where, tmp_path: Path, request,
                                                                       panel_factory) -> None:  # type: ignore[no-untyped-def]
    lake = Lake(tmp_path / "lake" if where == "local" else request.getfixturevalue("s3_lake_url"))
    write_bars(lake, panel_factory(24 * 20, 3, seed=4, funding=False, late_listing=False))
    folder = run_killed_at_its_commit(lake, where)
    # the kill came after every other file was written: they are there, the commit file is not
    assert sorted(p.name for p in folder.iterdir()) == sorted(set(RUN_FILES) - {COMMIT_FILE})
    run_id = folder.name if where == "s3" else folder.name.removeprefix(".").split(".tmp-")[0]
    store = RunStore(lake)
    assert store.list() == []
    with pytest.raises(NotFoundError, match=f"no run '{run_id}'"):
        store.load(run_id)
    # a run that completes beside the dead one is the only one listed, and reads back whole
    done = subprocess.run([sys.executable, "-c", STALL_AT_COMMIT.replace("signal.pause()", "pass"),
                           str(lake.root), json.dumps(REQUEST)], capture_output=True, text=True, check=True)
    finished = done.stdout.strip()
    finished_id = finished.rsplit("/", 1)[-1].removeprefix(".").split(".tmp-")[0]
    assert [r.run_id for r in store.list()] == [finished_id] != [run_id]
    stored = store.load(finished_id)
    assert stored.metrics.n_trades > 0 and len(stored.nav) > 0


@pytest.mark.parametrize("where", ["local", "s3"])
def test_what_a_killed_save_left_is_swept_once_old_by_the_next_save(where, tmp_path: Path, request, panel_factory,
                                                                      monkeypatch) -> None:  # type: ignore[no-untyped-def]
    lake = Lake(tmp_path / "lake" if where == "local" else request.getfixturevalue("s3_lake_url"))
    write_bars(lake, panel_factory(24 * 20, 3, seed=4, funding=False, late_listing=False))
    folder = run_killed_at_its_commit(lake, where)
    store = RunStore(lake)
    assert store.sweep_abandoned() == 0 and any(folder.iterdir())  # young: maybe a save in progress
    monkeypatch.setattr("cde_core.atomic.STALE_OBJECT_AGE_S", -1.0)  # now every leftover counts as old
    from cde_backtest.models import BacktestRequest
    from cde_backtest.service import run_backtest

    result = run_backtest(BacktestRequest.model_validate(REQUEST), lake)  # its save sweeps first
    assert not list(folder.iterdir()) if where == "s3" else not folder.exists()
    assert [r.run_id for r in store.list()] == [result.run_id]
    assert store.load(result.run_id).metrics.n_trades > 0
