"""``cde download`` / ``cde import`` / ``cde lake`` on a lake in a bucket (``CDE_DATA_ROOT=s3://…``), as real
``cde`` subprocesses against the fake archive server and the loopback S3 server (moto).

The oracle is the generated archive: every committed day must hold exactly the trades the archive was
made from. Around it: a SIGKILL mid-write and a resume, two writers on two "machines" (each with its
own cache folder, so no shared lock) downloading the same days, and what ``lake verify`` makes of a
staged temporary key (ignored) and of a garbage partition file (an error).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cde_core import atomic
from cde_core.lake import PART_FILE, Lake
from cde_core.lake_location import arrow_target
from cde_core.object_store import ObjectPath
from cde_core.testing.s3_server import S3Server
from cde_exchanges.fakes.archive_server import ArchiveServer, Fault
from cde_exchanges.fakes.archive_writer import ArchiveVariant, conform, write_archive_file
from cde_exchanges.fakes.synthetic_trades import random_trades
from cde_exchanges.formats.binance import BinanceArchive

DAYS = [date(2024, 6, 10), date(2024, 6, 11), date(2024, 6, 12)]
SYMBOLS = ["BTCUSDT", "ETHUSDT"]
BINANCE = BinanceArchive()

Expected = dict[tuple[str, date], pa.Table]


def publish(archive_root: Path, rows: int, symbols: list[str] = SYMBOLS) -> Expected:
    """Daily trade zips of ``symbols`` × :data:`DAYS`; returns what the lake must hold per symbol-day."""
    expected = {}
    for symbol in symbols:
        for i, day in enumerate(DAYS):
            file = BINANCE.daily_file("spot", "trades", symbol, day)
            trades = random_trades(day, rows, seed=len(symbol), first_id=1 + i * rows)
            write_archive_file(archive_root, file, trades, ArchiveVariant())
            expected[(symbol, day)] = conform(trades, file, ArchiveVariant())
    return expected


class Machine:
    """``cde`` subprocesses of one machine: the bucket lake, this machine's own cache folder."""

    def __init__(self, s3: S3Server, lake_url: str, archive_url: str, home: Path) -> None:
        self.home = home
        self.cache = home / "cache"
        self.scratch = home / "tmp"  # TMPDIR: the local temporary files of commits to the bucket
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("CDE_", "AWS_"))}
        self.env.update({**s3.env, "CDE_DATA_ROOT": lake_url, "CDE_CACHE_DIR": str(self.cache),
                         "TMPDIR": str(self.scratch), "CDE_DOWNLOAD__BINANCE_ARCHIVE_URL": archive_url,
                         "CDE_DOWNLOAD__RETRIES": "2", "CDE_DOWNLOAD__BACKOFF_S": "0.01",
                         "CDE_DOWNLOAD__TIMEOUT_S": "600", "CDE_EXECUTOR__MAX_WORKERS": "1"})

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "cde_server.cli.main", *args], cwd=self.home, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish(self, proc: subprocess.Popen[str]) -> tuple[int, str, str]:
        out, err = proc.communicate(timeout=600)
        return proc.returncode, out, err

    def download(self, *extra: str) -> subprocess.Popen[str]:
        return self.start("download", "--exchange", "binance", "--market", "spot", "--symbols", ",".join(SYMBOLS),
                          "--start", str(DAYS[0]), "--end", str(DAYS[-1]), *extra)


def run(machine: Machine, *args: str) -> tuple[int, str, str]:
    return machine.finish(machine.start(*args))


@pytest.fixture
def machine(s3_lake_url: str, s3_server: S3Server, server: ArchiveServer, tmp_path: Path) -> Machine:
    return Machine(s3_server, s3_lake_url, server.url, tmp_path / "machine-a")


def bucket_keys(lake_url: str) -> list[str]:
    """Every object in the lake's bucket, as keys relative to the bucket."""
    bucket = ObjectPath(lake_url).bucket
    return [str(path.relative_to(ObjectPath(f"s3://{bucket}"))) for path, _ in ObjectPath(f"s3://{bucket}").walk_files()]


def read_day(lake: Lake, symbol: str, day: date) -> pa.Table:
    where, filesystem = arrow_target(lake.trades_dir("binance", "spot", symbol, day) / PART_FILE)
    return pq.read_table(where, filesystem=filesystem).replace_schema_metadata(None)


def assert_lake_holds_exactly(lake_url: str, expected: Expected) -> None:
    """The bucket holds one visible partition per expected symbol-day, each exactly the generated trades."""
    lake = Lake(lake_url)
    visible = sorted(k for k in bucket_keys(lake_url) if not any(p.startswith(".") for p in k.split("/")))
    want = sorted(f"lake/trades/exchange=binance/market=spot/symbol={s}/date={d}/{PART_FILE}" for s, d in expected)
    assert visible == want
    for (symbol, day), table in expected.items():
        assert read_day(lake, symbol, day).equals(table), (symbol, day)


def verify(machine: Machine) -> tuple[int, str]:
    code, out, err = run(machine, "lake", "verify")
    return code, out + err


def test_download_ls_verify_resume_and_force_on_s3(archive_root: Path, server: ArchiveServer, machine: Machine,
                                                   s3_lake_url: str) -> None:
    expected = publish(archive_root, 2_000)
    code, out, err = machine.finish(machine.download())
    assert code == 0, out + err
    assert "days: 6 downloaded, 0 skipped" in out
    assert_lake_holds_exactly(s3_lake_url, expected)  # also: no zip, lock or marker went into the bucket
    assert list((machine.cache / "object-lakes").glob("*/locks/**/*.lock")), "locks live in the local cache"

    zips_before = len(server.requests("*.zip"))
    code, out, err = machine.finish(machine.download())
    assert code == 0 and "days: 0 downloaded, 6 skipped" in out, out + err
    assert len(server.requests("*.zip")) == zips_before  # resume: committed days are not fetched again

    code, out, err = run(machine, "lake", "ls", "--json")
    assert code == 0, out + err
    rows = {(r["symbol"], r["tree"]): (r["days"], r["rows"], r["missing_days"]) for r in json.loads(out)}
    assert rows == {(s, "trades"): (3, 6_000, []) for s in SYMBOLS}
    code, said = verify(machine)
    assert code == 0 and "6 partitions checked, 0 bad" in said, said

    # the asset pool from the bucket, the lake named on the command line (not folded into a local path)
    env_root = machine.env.pop("CDE_DATA_ROOT")
    code, out, err = run(machine, "universe", "pit", "--start", str(DAYS[1]), "--end", str(DAYS[2]), "--n", "2",
                         "--lookback-days", "1", "--json", "--data-root", s3_lake_url)
    machine.env["CDE_DATA_ROOT"] = env_root
    assert code == 0, out + err

    def volume(symbol: str, day: date) -> float:  # the oracle: the generated trades' quote volume
        return float(sum(expected[(symbol, day)].column("quote_qty").to_pylist()))

    want = [(str(day), symbol, rank) for day, before in ((DAYS[1], DAYS[0]), (DAYS[2], DAYS[1]))
            for rank, symbol in enumerate(sorted(SYMBOLS, key=lambda s: -volume(s, before)), start=1)]
    got = [(r["date"], r["symbol"], r["rank"]) for r in json.loads(out)]
    assert got == want
    for r in json.loads(out):
        prior = DAYS[DAYS.index(date.fromisoformat(r["date"])) - 1]
        assert r["trailing_quote_volume"] == pytest.approx(volume(r["symbol"], prior), rel=1e-9)

    code, out, err = machine.finish(machine.download("--force"))
    assert code == 0 and "days: 6 downloaded, 0 skipped" in out, out + err
    assert len(server.requests("*.zip")) == zips_before + 6
    assert_lake_holds_exactly(s3_lake_url, expected)


def test_import_trades_on_s3(machine: Machine, s3_lake_url: str, tmp_path: Path) -> None:
    source = tmp_path / "mine.csv"
    source.write_text("time,price,size,side,id\n"
                      "2024-03-01T23:59:58Z,100.5,2,buy,7\n"
                      "2024-03-01T23:59:59Z,100.0,1,sell,8\n"
                      "2024-03-02T00:00:01Z,101.0,3,buy,9\n")
    args = ["import", "trades", str(source), "--exchange", "myvendor", "--market", "spot", "--symbol", "ABC",
            "--columns", "ts=time,qty=size,trade_id=id"]
    code, out, err = run(machine, *args)
    assert code == 0, out + err
    lake = Lake(s3_lake_url)
    got = {}
    for day in (date(2024, 3, 1), date(2024, 3, 2)):
        where, filesystem = arrow_target(lake.trades_dir("myvendor", "spot", "ABC", day) / PART_FILE)
        table = pq.read_table(where, filesystem=filesystem)
        got[day] = list(zip(*(table.column(c).to_pylist() for c in ("trade_id", "price", "qty", "is_buyer_maker")),
                            strict=True))
    # side is the taker's: a buy taker means the buyer was not the maker
    assert got == {date(2024, 3, 1): [(7, 100.5, 2.0, False), (8, 100.0, 1.0, True)],
                   date(2024, 3, 2): [(9, 101.0, 3.0, False)]}
    assert not [k for k in bucket_keys(s3_lake_url) if ".tmp-" in k]
    code, out, err = run(machine, *args)  # the days are in the lake now: refused without --force
    assert code != 0 and "already in the lake" in out + err and "Traceback" not in err
    code, said = verify(machine)
    assert code == 0 and "2 partitions checked, 0 bad" in said, said


def test_sigkill_mid_write_then_resume_on_s3(archive_root: Path, server: ArchiveServer, machine: Machine,
                                             s3_lake_url: str) -> None:
    expected = publish(archive_root, 150_000)
    proc = machine.download()
    deadline = time.monotonic() + 300

    def writing_after_a_commit() -> bool:
        # a local temporary partition file exists from a day's first batch until its commit completes
        writing = list(machine.scratch.glob("cde-upload-*/part-0.parquet"))
        return bool(writing) and any(k.endswith("/" + PART_FILE) for k in bucket_keys(s3_lake_url))

    while not writing_after_a_commit():
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"never saw a day committed and the next being written: {proc.communicate()}")
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    committed = [k for k in bucket_keys(s3_lake_url) if k.endswith("/" + PART_FILE)]
    assert 1 <= len(committed) < 6  # it really was interrupted mid-way

    code, said = verify(machine)  # what the killed run left is never taken for data
    assert code == 0 and f"{len(committed)} partitions checked, 0 bad" in said, said

    code, out, err = machine.finish(machine.download())
    assert code == 0, out + err
    assert f"days: {6 - len(committed)} downloaded, {len(committed)} skipped" in out
    assert_lake_holds_exactly(s3_lake_url, expected)
    code, said = verify(machine)
    assert code == 0 and "6 partitions checked, 0 bad" in said, said


def test_two_machines_download_the_same_days_into_one_bucket(archive_root: Path, server: ArchiveServer,
                                                             s3_server: S3Server, s3_lake_url: str,
                                                             tmp_path: Path) -> None:
    expected = publish(archive_root, 20_000)
    a, b = (Machine(s3_server, s3_lake_url, server.url, tmp_path / name) for name in ("machine-a", "machine-b"))
    last = "*ETHUSDT-trades-2024-06-12.zip"
    hold = server.add_fault(Fault("hold"), last)
    first, second = a.download(), b.download()
    try:
        # both runs are mid-download at once (neither can see the other's lock: each has its own cache)
        deadline = time.monotonic() + 300
        while len(server.requests(last)) < 2:
            if time.monotonic() > deadline or first.poll() is not None or second.poll() is not None:
                pytest.fail("the two runs never overlapped")
            time.sleep(0.05)
    finally:
        hold.release()
    for proc in (first, second):
        code, out, err = a.finish(proc)
        assert code == 0, out + err
        assert "days: 6 downloaded" in out  # each wrote every day: no shared lock, idempotent commits
    assert_lake_holds_exactly(s3_lake_url, expected)
    code, said = verify(a)
    assert code == 0 and "6 partitions checked, 0 bad" in said, said


def test_verify_ignores_a_staged_key_and_fails_on_a_garbage_partition(archive_root: Path, server: ArchiveServer,
                                                                      machine: Machine, s3_lake_url: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    expected = publish(archive_root, 500, symbols=["BTCUSDT"])
    code, out, err = run(machine, "download", "--exchange", "binance", "--market", "spot", "--symbols", "BTCUSDT",
                         "--start", str(DAYS[0]), "--end", str(DAYS[-1]))
    assert code == 0, out + err
    lake = Lake(s3_lake_url)
    staged = lake.trades_dir("binance", "spot", "BTCUSDT", DAYS[1]) / ".part-0.parquet.tmp-4242-deadbeef"
    staged.write_bytes(b"half an upload")  # what a writer killed between upload and copy leaves
    lonely = lake.trades_dir("binance", "spot", "BTCUSDT", date(2024, 6, 20)) / ".part-0.parquet.tmp-4242-cafe"
    lonely.write_bytes(b"half an upload of a day never committed")
    code, said = verify(machine)
    assert code == 0 and "3 partitions checked, 0 bad" in said, said
    code, out, err = run(machine, "lake", "ls", "--json")
    [row] = json.loads(out)
    assert (row["days"], row["rows"], row["last_date"]) == (3, 1_500, str(DAYS[-1]))
    assert_lake_holds_exactly(s3_lake_url, expected)

    # start-up cleanup removes a dead writer's staged keys once they are older than a commit can take
    symbol_dir = lake.trades_dir("binance", "spot", "BTCUSDT", DAYS[0]).parent
    assert atomic.remove_stale_temps(symbol_dir) == 0  # young: maybe another machine mid-commit
    monkeypatch.setattr(atomic, "STALE_OBJECT_AGE_S", 0.0)
    assert atomic.remove_stale_temps(symbol_dir) == 2
    assert not [k for k in bucket_keys(s3_lake_url) if ".tmp-" in k]

    garbage = lake.trades_dir("binance", "spot", "BTCUSDT", date(2024, 6, 13)) / PART_FILE
    garbage.write_bytes(b"PAR1 this is not a parquet file")
    code, said = verify(machine)
    assert code == 1, said
    assert "date=2024-06-13" in said and "1 bad" in said, said
    code, out, err = run(machine, "lake", "ls")  # the table counts that day: the problem is named below it
    assert code == 0 and "1 partition(s) with problems" in err and "BTCUSDT 2024-06-13: unreadable" in err, err


def test_verify_and_resume_stop_on_a_store_that_went_down_instead_of_judging_partitions(
        archive_root: Path, server: ArchiveServer, machine: Machine, s3_lake_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The store going away between the listing and the reads (a restart, a network cut) must not make
    `lake verify` call every good partition BAD ("unreadable: … delete it"), nor make resume planning
    take the days for incomplete and fetch them all again: both stop with the store's own error."""
    from cde_core.errors import RemoteError
    from cde_core.testing.ports import free_port
    from cde_exchanges.lake.inventory import _verify_one
    from cde_exchanges.lake.targets import KIND_TREES, LakeTarget

    publish(archive_root, 300, symbols=["BTCUSDT"])
    code, out, err = run(machine, "download", "--exchange", "binance", "--market", "spot", "--symbols", "BTCUSDT",
                         "--start", str(DAYS[0]), "--end", str(DAYS[-1]))
    assert code == 0, out + err
    for key, value in machine.env.items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    lake = Lake(s3_lake_url)
    target = LakeTarget(lake, "binance", "spot", "trades")
    partition = lake.trades_dir("binance", "spot", "BTCUSDT", DAYS[0]) / PART_FILE
    assert _verify_one(lake, KIND_TREES["trades"], partition).ok  # listed while the store is up
    assert target.is_complete("BTCUSDT", DAYS[0])

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # then the store goes away
    with pytest.raises(RemoteError, match="cannot reach the object store"):
        _verify_one(lake, KIND_TREES["trades"], partition)
    with pytest.raises(RemoteError, match="cannot reach the object store"):
        target.is_complete("BTCUSDT", DAYS[0], present=True)  # as planning asks it after its one listing
