"""Benchmark: the ``dask`` executor (a 2-worker LocalCluster) vs the ``local`` executor, on this machine.

Two workloads, each run serially, with the local executor (2 threads, 2 processes) and with the dask
executor on a LocalCluster of 2 worker processes:

- a CPU-bound batch of pure-Python jobs (holds the GIL: threads cannot help, processes can);
- a real bar aggregation (``cde_bars.aggregate_lake``) over a synthetic trades lake, when cde-bars
  provides it.

"dask cold" includes everything a one-shot command pays: starting the cluster (spawning worker
processes that import cde), the run, and closing the cluster. "dask warm" is a second run on the
same cluster (what a long-lived cluster or a multi-stage command pays). Speed-ups are against the
serial run and against each local kind, so the overheads stay visible.

    uv run python benchmarks/bench_dask.py [--jobs 16] [--job-seconds 0.5] [--symbols 8] [--days 6]
"""

from __future__ import annotations

BENCH_REQUIREMENTS: list[str] = []  # dask[distributed] is a dependency of cde-dask itself

import argparse  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import zlib  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from datetime import date, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from cde_core.contracts.executor import Executor, Job  # noqa: E402
from cde_core.lake import Lake, Provenance  # noqa: E402
from cde_core.local_executor import LocalExecutor, LocalExecutorParams  # noqa: E402
from cde_core.schemas import TRADES_SCHEMA  # noqa: E402
from cde_dask import DaskExecutor, DaskExecutorParams  # noqa: E402

WORKERS = 2


def busy_loop(iterations: int) -> int:
    """Pure-Python arithmetic: holds the GIL the whole time, like per-row Python in a job."""
    total = 0
    for i in range(iterations):
        total = (total + i * i) % 1_000_003
    return total


def calibrate(seconds: float) -> int:
    """Iterations of :func:`busy_loop` that take about ``seconds`` on this machine."""
    n = 200_000
    start = time.perf_counter()
    busy_loop(n)
    return max(1, int(n * seconds / (time.perf_counter() - start)))


REPEAT = 2  # best of N for every row but "cold" (which would need N cluster starts)


def best_of(run: Callable[[], Any]) -> tuple[float, Any]:
    timings = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        result = run()
        timings.append(time.perf_counter() - start)
    return min(timings), result


def time_local(kind: str, workers: int, run: Callable[[Executor], Any]) -> tuple[float, Any]:
    executor = LocalExecutor(LocalExecutorParams(kind=kind, max_workers=workers))  # type: ignore[arg-type]
    return best_of(lambda: run(executor))


def time_dask(run: Callable[[Executor], Any]) -> tuple[float, float, Any, Any]:
    """(cold seconds incl. cluster start and close, best warm seconds, cold result, warm result)."""
    start = time.perf_counter()
    executor = DaskExecutor(DaskExecutorParams(max_workers=WORKERS, threads_per_worker=1))
    cold_result = run(executor)
    cold = time.perf_counter() - start
    warm, warm_result = best_of(lambda: run(executor))
    start = time.perf_counter()
    executor.close()
    cold += time.perf_counter() - start
    return cold, warm, cold_result, warm_result


def compare(title: str, run: Callable[[Executor], Any], same: Callable[[Any, Any], bool]) -> None:
    rows: list[tuple[str, float]] = []
    serial_s, expected = time_local("thread", 1, run)
    rows.append(("serial (local, 1 thread)", serial_s))
    for kind in ("thread", "process"):
        seconds, got = time_local(kind, WORKERS, run)
        assert same(got, expected), f"local {kind} result differs from serial"
        rows.append((f"local {kind} x{WORKERS}", seconds))
    cold, warm, cold_result, warm_result = time_dask(run)
    assert same(cold_result, expected) and same(warm_result, expected), "dask result differs from serial"
    rows.append((f"dask LocalCluster x{WORKERS} cold (start + run + close)", cold))
    rows.append((f"dask LocalCluster x{WORKERS} warm (run only)", warm))
    by_name = dict(rows)
    thread_s, process_s = by_name[f"local thread x{WORKERS}"], by_name[f"local process x{WORKERS}"]
    print(f"\n{title}\n")
    print("| executor | seconds | vs serial | vs local thread | vs local process |")
    print("|---|---:|---:|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.2f} | {serial_s / seconds:.2f}x | {thread_s / seconds:.2f}x "
              f"| {process_s / seconds:.2f}x |")


def cpu_batch(jobs: int, job_seconds: float) -> None:
    iterations = calibrate(job_seconds)
    batch = [Job(f"busy-{i}", busy_loop, (iterations + i,)) for i in range(jobs)]
    compare(f"CPU-bound batch: {jobs} pure-Python jobs of ~{job_seconds:.2f} s each",
            lambda executor: executor.run(batch), lambda a, b: a == b)


def synthetic_trades(symbol: str, day: date, rows: int) -> pa.Table:
    rng = np.random.default_rng(zlib.crc32(f"{symbol}{day}".encode()))
    start = np.datetime64(day.isoformat(), "us").astype("int64")
    ts = start + np.sort(rng.integers(0, 86_400_000_000, rows))
    price = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 2e-4, rows)))
    qty = rng.exponential(0.5, rows)
    first_id = (day - date(2024, 1, 1)).days * rows + 1
    return pa.Table.from_arrays(
        [pa.array(ts).cast(TRADES_SCHEMA.field("ts").type), pa.array(np.arange(first_id, first_id + rows)),
         pa.array(price), pa.array(qty), pa.array(price * qty), pa.array(rng.random(rows) < 0.5)],
        schema=TRADES_SCHEMA)


def write_lake(root: Path, symbols: Sequence[str], days: Sequence[date], rows: int) -> Lake:
    lake = Lake(root)
    for symbol in symbols:
        for day in days:
            table = synthetic_trades(symbol, day, rows)
            lake.write_partition(lake.trades_dir("binance", "spot", symbol, day), table,
                                 Provenance(source="synthetic", rows=rows))
    return lake


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


def bar_aggregation(symbols: int, days: int, rows: int) -> None:
    try:
        from cde_bars import AggregateRequest, aggregate_lake
    except (ImportError, AttributeError) as exc:
        print(f"\nbar aggregation: skipped (cde_bars.aggregate_lake not available: {exc})")
        return
    names = [f"SYM{i:02d}USDT" for i in range(symbols)]
    day_list = [date(2024, 1, 1) + timedelta(days=d) for d in range(days)]
    with tempfile.TemporaryDirectory() as tmp:
        lake = write_lake(Path(tmp) / "lake", names, day_list, rows)
        request = AggregateRequest(exchange="binance", market="spot", symbols=names, bar="time",
                                   params={"interval": "1min"}, start=day_list[0], end=day_list[-1])
        counter = iter(range(1_000_000))

        def run(executor: Executor) -> dict[str, bytes]:
            out = Lake(Path(tmp) / f"bars-{next(counter)}")
            out.root.mkdir(parents=True)
            (out.root / "trades").symlink_to(lake.root / "trades")
            aggregate_lake(request, lake=out, executor=executor)
            return tree_bytes(out.root / "bars")

        compare(f"Bar aggregation: 1-minute time bars, {symbols} symbols x {days} days x {rows:,} trades",
                run, lambda a, b: a == b and len(a) > 0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--job-seconds", type=float, default=0.5)
    parser.add_argument("--symbols", type=int, default=8)
    parser.add_argument("--days", type=int, default=6)
    parser.add_argument("--rows", type=int, default=400_000, help="trades per symbol-day")
    parser.add_argument("--repeat", type=int, default=2, help="best of N (all rows but dask cold)")
    args = parser.parse_args()
    global REPEAT
    REPEAT = args.repeat
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average {load} (other work on the machine skews all rows alike)")
    cpu_batch(args.jobs, args.job_seconds)
    bar_aggregation(args.symbols, args.days, args.rows)


if __name__ == "__main__":
    main()
