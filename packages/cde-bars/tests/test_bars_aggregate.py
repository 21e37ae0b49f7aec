"""Lake aggregation: same bars as one in-memory pass, month partitions, idempotent, resumable."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from cde_bars_lake import random_day, write_trades_lake

from cde_bars import AggregateRequest, aggregate_lake, build_bars, read_bars
from cde_bars.bars_lake import MANIFEST
from cde_core.errors import ConfigError, NotFoundError
from cde_core.lake import Lake
from cde_core.lake_location import LakePath
from cde_core.local_executor import LocalExecutor, LocalExecutorParams
from cde_core.object_store import ObjectPath

DAYS = [date(2024, 1, 30), date(2024, 1, 31), date(2024, 2, 1), date(2024, 2, 2), date(2024, 3, 5)]
SPECS = [("dollar", {"threshold": 20_000.0}), ("time", {"interval": "1h"}),
         ("volume_run", {"expected_ticks_init": 200.0, "expected_ticks_min": 50.0,
                         "expected_ticks_max": 800.0}),
         ("tick", {"threshold": 500.0, "bars_per_day": 7.0, "window_days": 2})]


@pytest.fixture()
def lake(lake_root: str) -> Lake:
    """The lake on a local folder and on the loopback S3 server: every test here runs on both."""
    return Lake(lake_root)


def executor() -> LocalExecutor:
    return LocalExecutor(LocalExecutorParams(kind="thread", max_workers=2))


def request(bar: str, params: dict, end: date = DAYS[-1], **kw: object) -> AggregateRequest:
    return AggregateRequest(bar=bar, params=params, exchange="binance", market="spot",
                            symbols=["BTCUSDT", "ETHUSDT"], start=DAYS[0], end=end, batch_rows=1024, **kw)


def reference(trades, bar: str, params: dict, flush: bool) -> pd.DataFrame:
    frame = build_bars(trades, bar, flush=flush, **params)
    return frame.reset_index(drop=True)


def stored(lake: Lake, spec: str, symbol: str) -> pd.DataFrame:
    frame = read_bars(lake, spec, "binance", "spot", [symbol], index="ts").reset_index()
    return frame.drop(columns=["symbol"]).reset_index(drop=True)


@pytest.mark.parametrize(("bar", "params"), SPECS)
def test_lake_bars_equal_one_in_memory_pass(lake: Lake, bar: str, params: dict) -> None:
    trades = {s: write_trades_lake(lake, s, DAYS, seed=i) for i, s in enumerate(["BTCUSDT", "ETHUSDT"])}
    report = aggregate_lake(request(bar, params), lake=lake, executor=executor())
    assert [s.status for s in report.symbols] == ["built", "built"]
    for symbol, table in trades.items():
        want = reference(table, bar, params, flush=False)
        got = stored(lake, report.spec_id, symbol)
        if bar == "time":  # the range covers the last interval's end, so it is written
            want = reference(table, bar, params, flush=True)
        pd.testing.assert_frame_equal(got[want.columns], want)
    symbol_dir = lake.bars_dir(report.spec_id, "binance", "spot", "BTCUSDT")
    months = sorted(p.name for p in symbol_dir.glob("month=*"))
    assert months == ["month=2024-01", "month=2024-02", "month=2024-03"]


def writes_under(folder: LakePath) -> dict[str, object]:
    """A record that changes with every write under ``folder``: each file's modification time (ns) on
    a disk; in a bucket — whose timestamps have whole seconds only — every object version and delete
    marker (the test bucket is versioned, so any put, copy or delete adds one)."""
    if isinstance(folder, ObjectPath):
        import boto3

        client = boto3.client("s3")
        bucket, _, prefix = folder.key.partition("/")
        pages = client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix + "/")
        return {f"{v['Key']}@{v['VersionId']}": v.get("Size") for page in pages
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])}
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def versioned(lake: Lake) -> Lake:
    """Turn on object versioning for a lake in a bucket (see :func:`writes_under`)."""
    if isinstance(lake.root, ObjectPath):
        import boto3

        boto3.client("s3").put_bucket_versioning(Bucket=lake.root.bucket,
                                                 VersioningConfiguration={"Status": "Enabled"})
    return lake


def test_rerun_is_a_no_op_and_extension_resumes(lake: Lake) -> None:
    bar, params = SPECS[0]
    lake = versioned(lake)
    trades = write_trades_lake(lake, "BTCUSDT", DAYS, seed=3)
    write_trades_lake(lake, "ETHUSDT", DAYS, seed=4)
    first = aggregate_lake(request(bar, params, end=DAYS[3]), lake=lake, executor=executor())
    stamp = writes_under(lake.root / "bars")
    assert any("month=2024-02/part-0.parquet" in name for name in stamp)
    again = aggregate_lake(request(bar, params, end=DAYS[3]), lake=lake, executor=executor())
    assert [s.status for s in again.symbols] == ["up-to-date", "up-to-date"]
    assert writes_under(lake.root / "bars") == stamp  # nothing written, not even the manifest
    extended = aggregate_lake(request(bar, params), lake=lake, executor=executor())
    btc = extended.symbols[0]
    assert btc.status == "resumed" and btc.resumed_from == "2024-01"
    assert btc.trades < trades.num_rows  # did not re-read January
    assert writes_under(lake.root / "bars") != stamp  # the record sees writes
    want = reference(trades, bar, params, flush=False)
    pd.testing.assert_frame_equal(stored(lake, first.spec_id, "BTCUSDT")[want.columns], want)


def test_interrupted_run_resumes_to_the_same_bars(lake: Lake) -> None:
    bar, params = SPECS[2]
    trades = write_trades_lake(lake, "BTCUSDT", DAYS, seed=5)
    write_trades_lake(lake, "ETHUSDT", DAYS, seed=6)
    report = aggregate_lake(request(bar, params), lake=lake, executor=executor())
    symbol_dir = lake.bars_dir(report.spec_id, "binance", "spot", "BTCUSDT")
    # simulate a crash after January was written: later months and the manifest are missing
    for folder in symbol_dir.glob("month=2024-0[23]"):
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
    (symbol_dir / MANIFEST).unlink()
    resumed = aggregate_lake(request(bar, params), lake=lake, executor=executor())
    assert resumed.symbols[0].status == "resumed"
    want = reference(trades, bar, params, flush=False)
    pd.testing.assert_frame_equal(stored(lake, report.spec_id, "BTCUSDT")[want.columns], want)


def test_read_bars_panel_aligns_time_bars_on_interval_start(lake: Lake) -> None:
    write_trades_lake(lake, "BTCUSDT", DAYS[:2], seed=1)
    write_trades_lake(lake, "ETHUSDT", DAYS[:2], seed=2)
    report = aggregate_lake(request("time", {"interval": "1h"}, end=DAYS[1]), lake=lake, executor=executor())
    panel = read_bars(lake, report.spec_id, "binance", "spot", ["BTCUSDT", "ETHUSDT"])
    assert panel.index.names == ["ts", "symbol"]
    assert len(panel) == 2 * 48  # 3000 random trades a day fill every hour
    stamps = panel.index.get_level_values("ts")
    assert (stamps == stamps.floor("1h")).all()
    assert (panel["ts_first"] >= stamps).all()
    one_day = read_bars(lake, report.spec_id, "binance", "spot", "BTCUSDT", DAYS[1], DAYS[1])
    assert len(one_day) == 24


def test_bad_request_errors_are_actionable(lake: Lake) -> None:
    with pytest.raises(ConfigError, match="threshold"):
        aggregate_lake(request("dollar", {"threshold": -1}), lake=lake, executor=executor())
    with pytest.raises(NotFoundError, match="no bar_builders named 'renko'"):
        aggregate_lake(request("renko", {}), lake=lake, executor=executor())
    with pytest.raises(NotFoundError):
        read_bars(lake, "dollar-1", "binance", "spot", ["BTCUSDT"])
    # nothing to aggregate is an error naming what is missing, not an empty report with exit code 0
    with pytest.raises(NotFoundError, match=r"does not exist|no exchange"):
        aggregate_lake(request("dollar", {"threshold": 1e4}), lake=lake, executor=executor())


@pytest.mark.parametrize(("change", "message"), [
    ({"symbols": ["BTCUSDX"]}, r"no symbol 'BTCUSDX'.*did you mean BTCUSDT"),
    ({"exchange": "binanse"}, r"no exchange 'binanse'.*did you mean binance"),
    ({"market": "spt"}, r"no market 'spt'.*did you mean spot"),
    ({"start": date(2025, 3, 1), "end": date(2025, 3, 2)},
     r"no trades of BTCUSDT from 2025-03-01 to 2025-03-02"),
])
def test_aggregate_names_what_the_trades_lake_lacks(lake: Lake, change: dict, message: str) -> None:
    write_trades_lake(lake, "BTCUSDT", DAYS[:1], seed=1)
    data = request("time", {"interval": "1h"}, end=DAYS[0]).model_dump() | {"symbols": ["BTCUSDT"]} | change
    with pytest.raises(NotFoundError, match=message):
        aggregate_lake(AggregateRequest.model_validate(data), lake=lake, executor=executor())


def test_cancelled_run_leaves_complete_months_and_resumes(lake: Lake) -> None:
    from cde_core.errors import CancelledError
    from cde_core.progress import CancelToken

    bar, params = SPECS[0]
    trades = write_trades_lake(lake, "BTCUSDT", DAYS, seed=8)
    token = CancelToken()
    calls: list[float] = []

    def progress(fraction: float, message: str) -> None:
        calls.append(fraction)
        if fraction >= 0.2:  # after a few days: stop
            token.cancel()

    one = AggregateRequest(bar=bar, params=params, exchange="binance", market="spot", symbols=["BTCUSDT"],
                           start=DAYS[0], end=DAYS[-1], batch_rows=1024)
    with pytest.raises(CancelledError):
        aggregate_lake(one, lake=lake, executor=executor(), progress=progress, cancel=token)
    assert calls and max(calls) < 1.0
    report = aggregate_lake(one, lake=lake, executor=executor())
    assert report.symbols[0].status in {"resumed", "built"}
    want = reference(trades, bar, params, flush=False)
    pd.testing.assert_frame_equal(stored(lake, report.spec_id, "BTCUSDT")[want.columns], want)


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_progress_never_goes_back_and_reaches_one_exactly_once(tmp_path: Path, kind: str) -> None:
    """The jobs' own fractions (threads) and the executor's count of finished symbols both reported, then
    a final "done": the bar went back (0.67 → 0.33) and reached 1.0 twice."""
    lake = Lake(tmp_path)
    symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    for seed, symbol in enumerate(symbols, start=20):
        write_trades_lake(lake, symbol, DAYS, seed=seed)
    calls: list[float] = []
    aggregate_lake(AggregateRequest(bar="time", params={"interval": "1h"}, exchange="binance", market="spot",
                                    symbols=symbols, start=DAYS[0], end=DAYS[-1], batch_rows=1024),
                   lake=lake, executor=LocalExecutor(LocalExecutorParams(kind=kind, max_workers=2)),
                   progress=lambda fraction, message: calls.append(fraction))
    assert calls == sorted(calls), calls
    assert calls.count(1.0) == 1 and calls[-1] == 1.0, calls


def test_bars_lake_reads_as_one_hive_dataset(lake: Lake) -> None:
    import pyarrow.dataset as ds

    write_trades_lake(lake, "BTCUSDT", DAYS[:3], seed=9)
    write_trades_lake(lake, "ETHUSDT", DAYS[:3], seed=10)
    report = aggregate_lake(request("time", {"interval": "1h"}, end=DAYS[2]), lake=lake, executor=executor())
    dataset = lake.dataset("bars", subpath=f"spec={report.spec_id}")
    table = dataset.to_table(filter=ds.field("symbol") == "ETHUSDT")
    assert table.num_rows == 72
    assert {"exchange", "market", "symbol", "month", "period_start"} <= set(table.column_names)


@pytest.mark.parametrize(("bar", "params"), SPECS)
def test_bars_in_a_bucket_equal_the_bars_on_disk(tmp_path: Path, s3_lake_url: str, bar: str,
                                                 params: dict) -> None:
    """The same trades aggregated into a folder and into a bucket give the same months, manifests and
    bars, value for value."""
    import json

    from cde_bars.bars_lake import MANIFEST, month_partitions

    disk, bucket = Lake(tmp_path / "lake"), Lake(s3_lake_url)
    for lake in (disk, bucket):
        for i, symbol in enumerate(["BTCUSDT", "ETHUSDT"]):
            write_trades_lake(lake, symbol, DAYS, seed=20 + i)
    reports = [aggregate_lake(request(bar, params), lake=lake, executor=executor())
               for lake in (disk, bucket)]
    assert reports[0].symbols == reports[1].symbols and reports[0].spec_id == reports[1].spec_id
    for symbol in ("BTCUSDT", "ETHUSDT"):
        dirs = [lake.bars_dir(reports[0].spec_id, "binance", "spot", symbol) for lake in (disk, bucket)]
        assert list(month_partitions(dirs[0])) == list(month_partitions(dirs[1])) != []
        assert json.loads((dirs[0] / MANIFEST).read_text()) == json.loads((dirs[1] / MANIFEST).read_text())
        pd.testing.assert_frame_equal(stored(bucket, reports[0].spec_id, symbol),
                                      stored(disk, reports[0].spec_id, symbol))


KILLED_RUN = """
import os, signal, sys
from datetime import date
from cde_bars import AggregateRequest, aggregate_lake
from cde_core.lake import Lake
from cde_core.local_executor import LocalExecutor, LocalExecutorParams

def progress(fraction, message):  # after the third day file (February 1st): January is written
    if fraction >= 0.6:
        os.kill(os.getpid(), signal.SIGKILL)

request = AggregateRequest(bar="dollar", params={"threshold": 20000.0}, exchange="binance", market="spot",
                           symbols=["BTCUSDT"], start=date(2024, 1, 30), end=date(2024, 3, 5),
                           batch_rows=1024)
aggregate_lake(request, lake=Lake(sys.argv[1]), progress=progress,
               executor=LocalExecutor(LocalExecutorParams(kind="thread", max_workers=1)))
"""


def test_a_killed_aggregation_resumes_to_the_same_bars(lake: Lake) -> None:
    """SIGKILL mid-run (a real process, on a disk and in a bucket): the months written stay whole, no
    manifest claims the run finished, and the next run resumes to the bars of one uninterrupted pass."""
    import subprocess
    import sys

    bar, params = SPECS[0]
    trades = write_trades_lake(lake, "BTCUSDT", DAYS, seed=11)
    killed = subprocess.run([sys.executable, "-c", KILLED_RUN, str(lake.root)], capture_output=True,
                            text=True)
    assert killed.returncode == -9, killed.stderr
    symbol_dir = lake.bars_dir("dollar-20000", "binance", "spot", "BTCUSDT")
    written = [p.name for p in symbol_dir.glob("month=*") if (p / "part-0.parquet").exists()]
    assert written == ["month=2024-01"]
    assert not (symbol_dir / MANIFEST).exists()
    assert not list(lake.root.rglob(".*.tmp-*"))  # nothing half-uploaded or half-renamed left
    one = AggregateRequest(bar=bar, params=params, exchange="binance", market="spot", symbols=["BTCUSDT"],
                           start=DAYS[0], end=DAYS[-1], batch_rows=1024)
    resumed = aggregate_lake(one, lake=lake, executor=executor())
    assert resumed.symbols[0].status == "resumed" and resumed.symbols[0].resumed_from == "2024-01"
    want = reference(trades, bar, params, flush=False)
    pd.testing.assert_frame_equal(stored(lake, resumed.spec_id, "BTCUSDT")[want.columns], want)


def test_process_workers_reach_the_bucket_through_the_url(tmp_path: Path, s3_lake_url: str) -> None:
    """Jobs carry the lake as its ``s3://`` URL; each worker process builds its own S3 client from its
    environment (as a Dask worker does) and writes the bars a thread on a local folder writes."""
    bar, params = SPECS[1]
    disk, bucket = Lake(tmp_path / "lake"), Lake(s3_lake_url)
    for lake in (disk, bucket):
        for i, symbol in enumerate(["BTCUSDT", "ETHUSDT"]):
            write_trades_lake(lake, symbol, DAYS[:3], seed=30 + i)
    processes = LocalExecutor(LocalExecutorParams(kind="process", max_workers=2))
    try:
        remote = aggregate_lake(request(bar, params, end=DAYS[2]), lake=bucket, executor=processes)
    finally:
        processes.close()
    local = aggregate_lake(request(bar, params, end=DAYS[2]), lake=disk, executor=executor())
    assert remote.symbols == local.symbols and [s.status for s in remote.symbols] == ["built", "built"]
    for symbol in ("BTCUSDT", "ETHUSDT"):
        pd.testing.assert_frame_equal(stored(bucket, remote.spec_id, symbol),
                                      stored(disk, local.spec_id, symbol))


def test_a_store_outage_while_streaming_is_the_stores_error_never_a_bad_day(
        s3_lake_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The day files were listed, then the store went away: the job says so. "Unreadable trades
    partition — re-download that day" would send the user to re-download good data."""
    from cde_bars.catalog import builder_by_name
    from cde_bars.symbol_job import SymbolAggregation
    from cde_core.errors import RemoteError
    from cde_core.lake_location import lake_location
    from cde_core.testing.ports import free_port

    write_trades_lake(Lake(s3_lake_url), "BTCUSDT", DAYS[:2], n=500)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing answers there
    down = Lake(s3_lake_url)
    builder = builder_by_name("tick")
    job = SymbolAggregation(down, builder, {"threshold": 100.0}, "binance", "spot", "BTCUSDT", flush=False,
                            batch_rows=1024, progress=None)
    job.days = DAYS[:2]
    job.files = [lake_location(str(down.trades_dir("binance", "spot", "BTCUSDT", day) / "part-0.parquet"))
                 for day in job.days]
    with pytest.raises(RemoteError, match="cannot reach the object store") as raised:
        job._stream(builder.new_state({"threshold": 100.0}), 0, None)
    assert "re-download" not in str(raised.value)


@pytest.mark.parametrize(("bar", "params"), SPECS)
@pytest.mark.parametrize(("start", "end"), [(DAYS[1], DAYS[-1]), (DAYS[0], DAYS[0])],
                         ids=["later-start", "earlier-end"])
def test_a_narrower_rerun_never_drops_bars_already_built(lake: Lake, bar: str, params: dict, start: date,
                                                         end: date) -> None:
    """Re-aggregating a sub-range would rewrite a month with fewer days (and keep the months around it:
    a hole in the middle of the spec): refused with the span the lake holds, every bar left as it was.
    (A narrower range that skips whole months rewrites none of them and is not refused.)"""
    from cde_core.errors import DataError

    write_trades_lake(lake, "BTCUSDT", DAYS)
    full = aggregate_lake(request(bar, params).model_copy(update={"symbols": ["BTCUSDT"]}), lake=lake,
                          executor=executor())
    before = stored(lake, full.spec_id, "BTCUSDT")
    narrower = request(bar, params, end=end).model_copy(update={"symbols": ["BTCUSDT"], "start": start})
    with pytest.raises(DataError, match=r"BTCUSDT already hold 2024-01-30 .* would replace that month"):
        aggregate_lake(narrower, lake=lake, executor=executor())
    pd.testing.assert_frame_equal(stored(lake, full.spec_id, "BTCUSDT"), before)


NEVER_CLOSING = [("dollar", {"threshold": 1e15}), ("tick", {"threshold": 1e9}),
                 ("volume_run", {"expected_ticks_init": 1e6, "expected_ticks_min": 1e6,
                                 "expected_ticks_max": 1e7})]


@pytest.mark.parametrize(("bar", "params"), NEVER_CLOSING)
def test_a_threshold_that_closes_no_bar_is_an_error_not_zero_bars(lake: Lake, bar: str, params: dict) -> None:
    """Trades were read, no bar closed: an error naming the symbols, on the first run and on a re-run
    (which would otherwise be `up-to-date` with 0 bars); `flush` writes the open bar and passes."""
    from cde_core.errors import DataError

    for i, symbol in enumerate(["BTCUSDT", "ETHUSDT"]):
        write_trades_lake(lake, symbol, DAYS[:2], seed=i)
    asked = request(bar, params, end=DAYS[1])
    for _ in range(2):
        with pytest.raises(DataError, match=r"no .* bar closed for BTCUSDT.*ETHUSDT.* lower the threshold"):
            aggregate_lake(asked, lake=lake, executor=executor())
    flushed = aggregate_lake(asked.model_copy(update={"flush": True}), lake=lake, executor=executor())
    assert [s.bars for s in flushed.symbols] == [1, 1]


@pytest.mark.parametrize(("bar", "params"), [*NEVER_CLOSING[:1], ("time", {"interval": "1h", "fill": True})])
@pytest.mark.parametrize("flush", [False, True])
def test_a_range_whose_day_files_hold_no_trades_says_so(lake: Lake, bar: str, params: dict,
                                                        flush: bool) -> None:
    """Empty day files (0 rows) were blamed on the threshold: 'no dollar bar closed … lower the
    threshold … or pass --flush', even to a time builder and to a run with --flush."""
    from cde_core.errors import DataError
    from cde_core.lake import Provenance
    from cde_core.schemas import TRADES_SCHEMA

    write_trades_lake(lake, "ETHUSDT", DAYS[:2], seed=1)
    for day in DAYS[:2]:
        lake.write_partition(lake.trades_dir("binance", "spot", "BTCUSDT", day), TRADES_SCHEMA.empty_table(),
                             Provenance(source="test: a day without trades", rows=0))
    asked = request(bar, {**params, "threshold": 1.0} if bar != "time" else params, end=DAYS[1], flush=flush)
    for _ in range(2):  # and on the re-run, which finds the (empty) bars up to date
        with pytest.raises(DataError) as caught:
            aggregate_lake(asked, lake=lake, executor=executor())
        message = str(caught.value)
        assert message.startswith("no trades of BTCUSDT from 2024-01-30 to 2024-01-31")
        assert "ETHUSDT" not in message and "threshold" not in message and "--flush" not in message


def test_time_bars_all_in_an_interval_ending_after_the_range_are_not_told_to_lower_a_threshold(
        lake: Lake) -> None:
    """7-minute intervals are epoch-aligned: 23:56 … 00:03 straddles midnight, so trades at 23:58 of
    the range's last day make no complete bar; the advice is about the range or --flush."""
    from cde_core.errors import DataError
    from cde_core.lake import Provenance

    day = random_day(date(2024, 1, 1), 50, seed=2, first_id=1)
    late = pd.Timestamp("2024-01-01 23:58", tz="UTC").value // 1000
    ts = pa.array([late + i for i in range(50)], pa.int64()).cast(day.schema.field("ts").type)
    day = day.set_column(0, "ts", ts)
    lake.write_partition(lake.trades_dir("binance", "spot", "BTCUSDT", date(2024, 1, 1)), day,
                         Provenance(source="test", rows=50))
    asked = AggregateRequest(bar="time", params={"interval": "7m"}, exchange="binance", market="spot",
                             symbols=["BTCUSDT"], start=date(2024, 1, 1), end=date(2024, 1, 1))
    with pytest.raises(DataError) as caught:
        aggregate_lake(asked, lake=lake, executor=executor())
    assert "no time bar closed for BTCUSDT (50 trades read)" in str(caught.value)
    assert "threshold" not in str(caught.value) and "--flush" in str(caught.value)
    flushed = aggregate_lake(asked.model_copy(update={"flush": True}), lake=lake, executor=executor())
    assert [s.bars for s in flushed.symbols] == [1]
