"""Two real ``cde download`` processes on one lake never break each other: different symbols run side
by side, the same symbol-days are done once (the second run waits, then skips them), and the lake
verifies whole afterwards. The archive server's ``hold`` fault keeps the first run mid-file for as
long as the test needs, so the overlap is certain, not a matter of timing."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cde_core.config import CdeConfig
from cde_core.errors import CancelledError
from cde_core.lake import PART_FILE, Lake, Provenance
from cde_core.progress import CancelToken
from cde_core.schemas import TRADES_SCHEMA
from cde_exchanges.download.locks import SymbolLocks
from cde_exchanges.download.models import DownloadReport, DownloadRequest
from cde_exchanges.download.service import run_download
from cde_exchanges.extraction.partition_writer import TradePartitionWriter
from cde_exchanges.fakes.archive_server import ArchiveServer, Fault
from cde_exchanges.fakes.archive_writer import ArchiveVariant, write_archive_file
from cde_exchanges.fakes.synthetic_trades import random_trades
from cde_exchanges.formats.binance import BinanceArchive
from cde_exchanges.lake.targets import LakeTarget

DAY1, DAY2 = date(2024, 6, 10), date(2024, 6, 11)
BINANCE = BinanceArchive()
ROWS = 400


def publish(root: Path, symbol: str, day: date) -> None:
    first_id = 1 + (day - DAY1).days * ROWS
    write_archive_file(root, BINANCE.daily_file("spot", "trades", symbol, day),
                       random_trades(day, ROWS, first_id=first_id, seed=len(symbol)), ArchiveVariant())


class Cli:
    """``cde`` subprocesses on one lake, configured through the environment as a user would."""

    def __init__(self, lake: Path, url: str, cwd: Path) -> None:
        self.cwd = cwd
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CDE_")}
        self.env.update({"CDE_DATA_ROOT": str(lake), "CDE_DOWNLOAD__BINANCE_ARCHIVE_URL": url,
                         "CDE_DOWNLOAD__RETRIES": "2", "CDE_DOWNLOAD__BACKOFF_S": "0.01",
                         "CDE_DOWNLOAD__TIMEOUT_S": "600"})

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "cde_server.cli.main", *args], cwd=self.cwd, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def download(self, symbol: str, *extra: str) -> subprocess.Popen[str]:
        return self.start("download", "--exchange", "binance", "--market", "spot", "--symbols", symbol,
                          "--start", str(DAY1), "--end", str(DAY2), *extra)

    def finish(self, proc: subprocess.Popen[str]) -> tuple[int, str, str]:
        out, err = proc.communicate(timeout=600)
        return proc.returncode, out, err


@pytest.fixture
def cli(tmp_path: Path, server: ArchiveServer) -> Cli:
    return Cli(tmp_path / "lake", server.url, tmp_path)


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".tmp-" in p.name]


def wait_for(condition: object, what: str) -> None:
    """Poll until ``condition()`` holds (a bound only against hanging for ever, never a speed check)."""
    deadline = time.monotonic() + 300
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def stderr_lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    """The process's stderr lines as they come (read in a thread, so the test can wait for one)."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def assert_lake_whole(cli: Cli, symbols: list[str]) -> None:
    code, out, err = cli.finish(cli.start("lake", "verify"))
    assert code == 0, out + err
    assert f"{2 * len(symbols)} partitions checked, 0 bad" in out
    lake = Lake(cli.env["CDE_DATA_ROOT"])
    for symbol in symbols:
        for day in (DAY1, DAY2):
            assert pq.read_metadata(lake.trades_dir("binance", "spot", symbol, day) / PART_FILE).num_rows == ROWS


def test_runs_on_different_symbols_proceed_side_by_side(archive_root: Path, server: ArchiveServer, cli: Cli) -> None:
    for symbol in ("BTCUSDT", "ETHUSDT"):
        for day in (DAY1, DAY2):
            publish(archive_root, symbol, day)
    hold = server.add_fault(Fault("hold"), "*BTCUSDT-trades-2024-06-11.zip")
    first = cli.download("BTCUSDT")
    try:
        assert hold.wait_holding(timeout=300), "the first run never asked for its file"
        lake = Path(cli.env["CDE_DATA_ROOT"])
        in_flight = lake / ".cache" / "archives"
        held = ".BTCUSDT-trades-2024-06-11.zip.tmp-*"
        wait_for(lambda: list(in_flight.rglob(held)), "the first run's temporary zip")
        in_flight_zips = list(in_flight.rglob(held))
        # the second run starts (and cleans up) while the first is mid-file, and finishes first
        code, out, err = cli.finish(cli.download("ETHUSDT"))
        assert code == 0, out + err
        assert "days: 2 downloaded" in out
        assert all(p.exists() for p in in_flight_zips), "the second run removed the first run's file in flight"
    finally:
        hold.release()
    code, out, err = cli.finish(first)
    assert code == 0, out + err
    assert "days: 2 downloaded" in out and "internal error" not in err
    assert_lake_whole(cli, ["BTCUSDT", "ETHUSDT"])
    assert not temp_files(Path(cli.env["CDE_DATA_ROOT"]))


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
def test_second_run_of_the_same_days_waits_then_skips_them(force: bool, archive_root: Path, server: ArchiveServer,
                                                           cli: Cli) -> None:
    for day in (DAY1, DAY2):
        publish(archive_root, "BTCUSDT", day)
    extra = ("--force",) if force else ()
    hold = server.add_fault(Fault("hold"), "*BTCUSDT-trades-2024-06-11.zip")
    first = cli.download("BTCUSDT", *extra)
    try:
        assert hold.wait_holding(timeout=300), "the first run never asked for its file"
        second = cli.download("BTCUSDT", *extra)
        lines = stderr_lines(second)
        try:
            waiting = lines.get(timeout=300)
        except queue.Empty:
            pytest.fail("the second run did not say it waits for the first")
        assert waiting.startswith("waiting: BTCUSDT (binance spot trades) is being downloaded by another cde "
                                  f"download (pid {first.pid} on ")
    finally:
        hold.release()
    code, out, err = cli.finish(first)
    assert code == 0, out + err
    assert "days: 2 downloaded" in out
    assert second.wait(timeout=600) == 0
    assert second.stdout is not None
    assert "days: 0 downloaded, 2 skipped, 0 missing, 0 failed" in second.stdout.read()
    for day in (DAY1, DAY2):  # each day's file was fetched once, by the first run
        assert len(server.requests(f"*BTCUSDT-trades-{day}.zip")) == 1
    assert_lake_whole(cli, ["BTCUSDT"])


def test_two_writers_of_one_partition_leave_one_whole_partition(tmp_path: Path) -> None:
    """Whatever the interleaving, a partition is one writer's complete file (the rename is atomic and
    each writer has its own temporary name), never a mix or a half."""
    folder = Lake(tmp_path).trades_dir("binance", "spot", "BTCUSDT", DAY1)
    tables = [random_trades(DAY1, n, first_id=first, seed=n).cast(TRADES_SCHEMA) for n, first in ((300, 1),
                                                                                                   (500, 1001))]
    writers = [TradePartitionWriter(folder), TradePartitionWriter(folder)]
    for batch_a, batch_b in zip(tables[0].to_batches(max_chunksize=100), tables[1].to_batches(max_chunksize=100),
                                strict=False):
        writers[0].write(batch_a)
        writers[1].write(batch_b)
    for batch in tables[1].to_batches(max_chunksize=100)[3:]:
        writers[1].write(batch)
    for writer, table in zip(writers[::-1], tables[::-1], strict=True):  # the second finishes first
        writer.commit(Provenance(source="test", rows=table.num_rows))
    got = pq.read_table(folder / PART_FILE).replace_schema_metadata(None)
    assert got.equals(tables[0].replace_schema_metadata(None))
    assert Lake.read_provenance(folder) == Provenance(source="test", rows=300)
    assert not temp_files(tmp_path)


def test_a_waiting_run_can_be_cancelled_and_then_goes_ahead_when_free(archive_root: Path, server: ArchiveServer,
                                                                      config: CdeConfig) -> None:
    """What ``POST /download`` relies on: the wait shows in the task's progress, cancelling the task ends
    the wait, and once the holder is gone the run downloads the symbol."""
    for day in (DAY1, DAY2):
        publish(archive_root, "BTCUSDT", day)
    request = DownloadRequest(exchange="binance", market="spot", symbols=["BTCUSDT"], start=DAY1, end=DAY2)
    target = LakeTarget(Lake(config.data_root), "binance", "spot", "trades")
    messages: queue.Queue[str] = queue.Queue()
    cancel = CancelToken()
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(run_download(request, adapter=BINANCE, config=config, today=date(2024, 6, 20),
                                        cancel=cancel, progress=lambda f, m: messages.put(m)))
        except CancelledError as exc:
            outcome.append(exc)

    with SymbolLocks(target) as other_run:  # another run (a lock taken on another descriptor) holds it
        assert other_run.try_take("BTCUSDT")
        worker = threading.Thread(target=run)
        worker.start()
        assert messages.get(timeout=300).startswith("waiting: BTCUSDT (binance spot trades) is being downloaded "
                                                     f"by another cde download (pid {os.getpid()} on ")
        cancel.cancel()
        worker.join(timeout=300)
        assert isinstance(outcome.pop(), CancelledError)
        assert not (target.symbol_dir("BTCUSDT")).exists()

        cancel = CancelToken()
        worker = threading.Thread(target=run)
        worker.start()
        assert messages.get(timeout=300).startswith("waiting: BTCUSDT")
    worker.join(timeout=300)  # the holder let go: the run goes ahead
    report = outcome.pop()
    assert isinstance(report, DownloadReport) and report.count_days("written") == 2


def test_two_threads_writing_one_table_partition_leave_one_whole_partition(tmp_path: Path) -> None:
    """The same for the small-table kinds' writer (``Lake.write_partition``): two writers at once, many
    times over; every time the partition is exactly one of the two tables with its own provenance."""
    lake = Lake(tmp_path)
    folder = lake.trades_dir("binance", "spot", "BTCUSDT", DAY1)
    tables = {n: random_trades(DAY1, n, seed=n) for n in (2_000, 3_000)}

    def write(n: int, start: threading.Barrier) -> None:
        start.wait()
        lake.write_partition(folder, tables[n], Provenance(source=f"writer-{n}", rows=n))

    for _ in range(10):
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=write, args=(n, barrier)) for n in tables]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        got = pq.read_table(folder / PART_FILE)
        provenance = Lake.read_provenance(folder)
        assert provenance is not None and provenance.rows == got.num_rows
        assert provenance.source == f"writer-{got.num_rows}"
        assert got.replace_schema_metadata(None).equals(tables[got.num_rows].replace_schema_metadata(None))
    assert not temp_files(tmp_path)


def test_an_owner_note_half_written_by_a_killed_run_is_removed_by_the_next_holder(tmp_path: Path) -> None:
    """A SIGKILL while a run writes its lock's owner note leaves the note's temporary file; the next
    run to take that lock removes it (nobody else can be writing that note), and only that one."""
    target = LakeTarget(Lake(tmp_path), "binance", "spot", "trades")
    locks = SymbolLocks(target)
    note = locks.path("BTCUSDT").with_name(locks.path("BTCUSDT").name + ".owner")
    note.parent.mkdir(parents=True)
    stale = note.with_name(f".{note.name}.tmp-999999-deadbeef")
    other = note.with_name(".ETHUSDT.lock.owner.tmp-999999-deadbeef")
    stale.write_bytes(b'{"pid": 9')
    other.write_bytes(b'{"pid": 9')
    with locks:
        assert locks.try_take("BTCUSDT")
        assert not stale.exists() and other.exists()
        assert "pid" in locks.holder("BTCUSDT")


def test_a_download_never_removes_the_staged_day_of_a_writer_still_running(
        archive_root: Path, server: ArchiveServer, cli: Cli) -> None:
    """``cde import`` takes no symbol lock; a ``cde download`` of the same symbol that started while the
    import held a day in a hidden temporary file removed it at start-up ("ours to remove: we hold the
    symbol's lock"), and the import then failed with `No such file or directory … check the path`.
    A live writer (a process that stays alive, as the import does) holds a temporary named the way
    every writer names them: the download keeps it; once the writer has ended, the next one removes it.
    (Deterministic: freezing a real import while it stages a day was a race the machine's load could win.)"""
    from cde_core.atomic import temp_path_for

    publish(archive_root, "BTCUSDT", DAY1)
    lake_root = Path(cli.env["CDE_DATA_ROOT"])
    day = Lake(lake_root).trades_dir("binance", "spot", "BTCUSDT", DAY1 - timedelta(days=1))
    day.mkdir(parents=True)
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        ours = temp_path_for(day / PART_FILE)
        staged = ours.with_name(ours.name.replace(f".tmp-{os.getpid()}-", f".tmp-{writer.pid}-"))
        staged.write_bytes(b"PAR1 a day being written")
        code, out, err = cli.finish(cli.download("BTCUSDT"))
        assert code == 0, out + err
        assert staged.exists(), "the download removed a live writer's staged day"
    finally:
        writer.kill()
        writer.wait()
    code, out, err = cli.finish(cli.download("BTCUSDT"))
    assert code == 0, out + err
    assert not staged.exists(), "a temporary of a writer that has ended stayed"
