"""Benchmark: cde bar kernels against the memory-read floor and the usual tools, in one run.

On the same synthetic trades (default 20 M, ~30 days) it measures, single-threaded unless noted:
  * the memory-read floor: the faster of numpy sums and a Numba loop summing ts, price and qty once;
  * every cde kernel (time 1m, tick, volume, dollar, tick/volume/dollar imbalance and run), numpy
    arrays in → bar arrays out, and the full builder (Arrow batch in → Arrow bars out) for time and
    dollar bars; time and dollar bars on 2 cores (two symbols in two threads, as the executor runs them);
  * baselines: pandas resample (1m OHLCV) and cumsum-groupby dollar bars, polars group_by_dynamic
    (its default thread pool), DuckDB integer-floor GROUP BY, and a pure-Python loop over lists on a
    slice (how mlfinlab-style code works);
  * the batch-size sweep: every builder's public ``update()`` fed record batches of 2^15, 2^17 (what
    the lake reader hands it) and 2^20 trades, interleaved round by round so load drifts hit all
    sizes alike, as M trades/s, × floor and the ratio to 2^20 batches (``--sweep-only`` runs just this);
  * end to end from a Parquet trades lake (the configured codec, zstd by default;
    ``--lake-compression lz4`` to compare): pyarrow's decode rate on one core (``read_table`` and
    the reader's ``iter_batches``), ``aggregate_lake`` (dollar bars) with 1 and 2 worker threads,
    with the child process's peak RSS, and one symbol per worker process, 2 processes, each timing
    its own CPU seconds, started together at a barrier each round; for scale, the decode alone in 2
    processes at once and a ceiling (decode + the dollar kernel, without the checks, assembly and
    writes no real run may skip) (``--end-to-end-only`` runs just this, with ratios to the faster decode).
Prints trades/s and ratios to the floor. ``--lake-trades 200000000`` also writes a lake of that
size and reports the out-of-core aggregation's time and peak RSS.

    uv run python benchmarks/bench_bars.py [--trades 20000000] [--lake-trades 0] [--lake-dir DIR]
                                           [--sweep-only] [--sweep-rounds 5] [--end-to-end-only]
                                           [--lake-compression lz4]
"""

from __future__ import annotations

BENCH_REQUIREMENTS = ["polars", "duckdb"]  # bench-only: `uv pip install polars duckdb`, never package deps

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from datetime import date, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

START_US = 1_704_067_200_000_000  # 2024-01-01
DAY_US = 86_400_000_000
SPAN_DAYS = 30
MINUTE_US = 60_000_000
TRADE_COLUMNS = ["ts", "trade_id", "price", "qty", "quote_qty", "is_buyer_maker"]


# -- data --------------------------------------------------------------------------------------
def synthetic_trades(n: int, seed: int = 7, start_us: int = START_US, days: float = SPAN_DAYS) -> dict:
    """Trades with realistic shapes: Poisson arrivals, random-walk price near 40 000, exponential
    sizes, random taker side."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(days * DAY_US / n, n).astype(np.int64)
    ts = start_us + np.cumsum(gaps)
    price = np.round(40_000.0 * np.exp(np.cumsum(rng.normal(0.0, 2e-5, n))), 2)
    qty = np.round(rng.exponential(0.01, n), 5) + 1e-5
    return {"ts": ts, "trade_id": np.arange(n, dtype=np.int64), "price": price, "qty": qty,
            "quote": price * qty, "maker": (rng.random(n) < 0.5)}


def arrow_batch(t: dict):
    import pyarrow as pa

    from cde_core.schemas import TRADES_SCHEMA

    return pa.record_batch([pa.array(t["ts"]).cast(TRADES_SCHEMA.field("ts").type), pa.array(t["trade_id"]),
                            pa.array(t["price"]), pa.array(t["qty"]), pa.array(t["quote"]),
                            pa.array(t["maker"])], schema=TRADES_SCHEMA)


# -- timing ------------------------------------------------------------------------------------
def best_of(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, float]:
    """Best wall-clock seconds and best process CPU seconds of ``repeat`` runs after a warm-up.

    CPU seconds matter on a shared machine: other tenants' load stretches wall time but not the CPU
    time a single-threaded kernel needs; for multi-threaded tools CPU time shows their efficiency."""
    fn()  # warm-up: JIT / cache load, page faults
    wall = cpu = float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu


def floor_numba():
    from numba import njit

    @njit(cache=True, nogil=True)
    def read_once(ts, price, qty):
        a = 0
        b = 0.0
        c = 0.0
        for i in range(price.shape[0]):
            a += ts[i]
            b += price[i]
            c += qty[i]
        return a, b, c

    return read_once


# -- cde ---------------------------------------------------------------------------------------
def kernel_runner(name: str, params: dict, t: dict) -> Callable[[], int]:
    """Run one cde kernel over numpy arrays with preallocated output (what the builder does per batch,
    minus the Arrow conversion): returns a closure that builds all bars from a fresh state."""
    from cde_bars.catalog import builder_by_name
    from cde_bars.trade_columns import TradeColumns

    builder = builder_by_name(name)
    cols = TradeColumns(t["ts"], t["trade_id"], t["price"], t["qty"], t["quote"], t["maker"].view(np.uint8))
    capacity = max(1024, len(cols) // 100)

    def run() -> int:
        state = builder.new_state(params)
        out_f = np.empty((6, capacity))
        ends = np.empty(capacity, dtype=np.int64)
        counts = np.empty(capacity, dtype=np.int64)
        periods = np.zeros(capacity, dtype=np.int64)
        start, bars = 0, 0
        while start < len(cols):
            k, start = builder._run(state, cols, out_f, ends, counts, periods, start)
            bars += k
        return bars

    return run


def builder_runner(name: str, params: dict, batch) -> Callable[[], int]:
    from cde_bars.catalog import builder_by_name

    builder = builder_by_name(name)

    def run() -> int:
        state = builder.new_state(params)
        return builder.update(state, batch).num_rows

    return run


SWEEP_EXPONENTS = (15, 17, 20)


def batch_size_sweep(specs: list[tuple[str, dict]], t: dict, rounds: int) -> dict[tuple[str, int], float]:
    """Best CPU seconds of each builder's ``update()`` over the whole stream in batches of 2^e trades.

    Round-robin (every spec and size once per round, best of ``rounds``): on a shared machine a
    burst of load then hits each size alike, so the ratios within one run stay meaningful. CPU
    seconds, not wall: other tenants stretch wall time, not the CPU a single-threaded call needs."""
    import pyarrow as pa

    table = pa.Table.from_batches([arrow_batch(t)])
    batches = {e: table.to_batches(max_chunksize=1 << e) for e in SWEEP_EXPONENTS}
    runners = {}
    for label, (name, params) in zip(spec_labels(specs), specs, strict=True):
        for e in SWEEP_EXPONENTS:
            runners[(label, e)] = stream_runner(name, params, batches[e])
            runners[(label, e)]()  # warm-up: kernels loaded from the Numba cache
    best = dict.fromkeys(runners, float("inf"))
    for _ in range(rounds):
        for key, run in runners.items():
            c0 = time.process_time()
            run()
            best[key] = min(best[key], time.process_time() - c0)
    return best


def stream_runner(name: str, params: dict, batches: list) -> Callable[[], int]:
    """Build all bars of a stream handed over as record batches, as the lake reader does."""
    from cde_bars.catalog import builder_by_name

    builder = builder_by_name(name)

    def run() -> int:
        state = builder.new_state(params)
        return sum(builder.update(state, batch).num_rows for batch in batches)

    return run


def spec_labels(specs: list[tuple[str, dict]]) -> list[str]:
    return [name + (" (dynamic)" if "bars_per_day" in params else "") for name, params in specs]


def print_sweep(best: dict[tuple[str, int], float], n: int, floor_cpu: float) -> None:
    print("\n| builder | batch | M trades/s (CPU) | × floor | vs 2^20 batches |")
    print("|---|---|---:|---:|---:|")
    for (label, e), seconds in best.items():
        rate = n / seconds
        print(f"| {label} | 2^{e} | {rate / 1e6:,.1f} | {rate / floor_cpu:.2f} | "
              f"{best[(label, 20)] / seconds:.2f} |")


def two_symbols_in_threads(name: str, params: dict, halves: list[dict]) -> Callable[[], int]:
    runners = [kernel_runner(name, params, h) for h in halves]

    def run() -> int:
        with ThreadPoolExecutor(2) as pool:
            return sum(pool.map(lambda r: r(), runners))

    return run


# -- baselines ---------------------------------------------------------------------------------
def pandas_resample(t: dict) -> Callable[[], int]:
    import pandas as pd

    frame = pd.DataFrame({"price": t["price"], "qty": t["qty"], "quote": t["quote"]},
                         index=pd.to_datetime(t["ts"], unit="us", utc=True))

    def run() -> int:
        r = frame.resample("1min")
        bars = pd.concat([r["price"].ohlc(), r["qty"].sum(), r["quote"].sum(), r["price"].count()], axis=1)
        return len(bars.dropna())

    return run


def pandas_cumsum_groupby(t: dict, threshold: float) -> Callable[[], int]:
    import pandas as pd

    frame = pd.DataFrame({"price": t["price"], "qty": t["qty"], "quote": t["quote"]})

    def run() -> int:
        group = (frame["quote"].cumsum() // threshold).to_numpy()
        g = frame.groupby(group, sort=False)
        bars = g.agg(open=("price", "first"), high=("price", "max"), low=("price", "min"),
                     close=("price", "last"), volume=("qty", "sum"), quote=("quote", "sum"))
        return len(bars)

    return run


def polars_dynamic(t: dict) -> Callable[[], int]:
    import polars as pl

    frame = pl.DataFrame({"ts": t["ts"], "price": t["price"], "qty": t["qty"], "quote": t["quote"]})
    frame = frame.with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC"))).set_sorted("ts")

    def run() -> int:
        bars = frame.group_by_dynamic("ts", every="1m").agg(
            pl.col("price").first().alias("open"), pl.col("price").max().alias("high"),
            pl.col("price").min().alias("low"), pl.col("price").last().alias("close"),
            pl.col("qty").sum(), pl.col("quote").sum(), pl.len().alias("n"))
        return bars.height

    return run


def duckdb_floor_groupby(t: dict) -> Callable[[], int]:
    import duckdb
    import pyarrow as pa

    table = pa.table({"ts": t["ts"], "price": t["price"], "qty": t["qty"], "quote": t["quote"]})
    con = duckdb.connect()
    con.register("trades", table)
    query = (f"SELECT ts // {MINUTE_US} AS k, arg_min(price, ts) AS open, max(price) AS high, "
             "min(price) AS low, arg_max(price, ts) AS close, sum(qty) AS volume, sum(quote) AS quote, "
             "count(*) AS n FROM trades GROUP BY k")

    def run() -> int:
        return len(con.execute(query).fetchnumpy()["k"])

    return run


def python_loop_dollar(t: dict, threshold: float, n: int) -> Callable[[], int]:
    ts, price, qty, quote = (t[k][:n].tolist() for k in ("ts", "price", "qty", "quote"))
    maker = t["maker"][:n].tolist()

    def run() -> int:
        bars = []
        o = h = lo = v = q = b = 0.0
        count = 0
        first_ts = 0
        for i in range(len(price)):
            p = price[i]
            if count == 0:
                o = h = lo = p
                v = q = b = 0.0
                first_ts = ts[i]
            h = max(h, p)
            lo = min(lo, p)
            v += qty[i]
            q += quote[i]
            if not maker[i]:
                b += qty[i]
            count += 1
            if q >= threshold:
                bars.append((first_ts, ts[i], o, h, lo, p, v, q, b, count))
                count = 0
        return len(bars)

    return run


# -- lake --------------------------------------------------------------------------------------
def write_lake(root: Path, total: int, symbols: list[str], per_day: int) -> tuple[date, date]:
    """A trades lake of ``total`` trades: ``per_day`` trades per symbol-day, written by the core's
    atomic partition writer (zstd), generated day by day so memory stays small."""
    from cde_core.lake import Lake, Provenance

    lake = Lake(root)
    days = max(1, total // (per_day * len(symbols)))
    first = date(2024, 1, 1)
    for s, symbol in enumerate(symbols):
        next_id = 1
        for d in range(days):
            day = first + timedelta(days=d)
            day_start = START_US + d * DAY_US
            t = synthetic_trades(per_day, seed=s * 100_000 + d, start_us=day_start, days=0.99)
            t["ts"] = np.minimum(t["ts"], day_start + DAY_US - 1)  # every trade inside its day file
            t["trade_id"] = t["trade_id"] + next_id
            next_id += per_day
            lake.write_partition(lake.trades_dir("binance", "spot", symbol, day), arrow_batch_table(t),
                                 Provenance(source="bench", rows=per_day,
                                            first_trade_id=int(t["trade_id"][0]),
                                            last_trade_id=int(t["trade_id"][-1])))
    return first, first + timedelta(days=days - 1)


def arrow_batch_table(t: dict):
    import pyarrow as pa

    return pa.Table.from_batches([arrow_batch(t)])


def decode_rate(root: Path, columns: list[str], *, batches: bool = False, repeat: int = 3) -> tuple[float, float]:
    """Rows per wall second and per CPU second pyarrow decodes on one thread (best of ``repeat``):
    ``pq.read_table``, or with ``batches`` ``ParquetFile.iter_batches`` in the lake reader's 2^17-row
    batches from a memory map, as the aggregation reads (the faster of the two on this VM)."""
    import pyarrow.parquet as pq

    files = sorted(root.rglob("part-0.parquet"))

    def read() -> int:
        if not batches:
            return sum(pq.read_table(f, columns=columns, use_threads=False).num_rows for f in files)
        return decode_files(files, columns)

    wall = cpu = float("inf")
    rows = 0
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        rows = read()
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return rows / wall, rows / cpu


def decode_files(files: list, columns: list[str]) -> int:
    """Decode ``files`` as the lake reader does (memory-mapped, ``iter_batches`` of 2^17 rows, one
    thread) and drop the batches; the rows decoded."""
    import pyarrow.parquet as pq

    return sum(batch.num_rows for f in files for batch in pq.ParquetFile(f, memory_map=True).iter_batches(
        batch_size=1 << 17, columns=columns, use_threads=False))


def kernel_ceiling(root: Path, threshold: float, repeat: int = 3) -> tuple[float, float]:
    """Rows per wall and per CPU second of the reader's decode plus only the dollar kernel: the same
    batches turned into arrays and run through the compiled loop, without the per-batch order and
    value checks, the bars' assembly, the month bookkeeping and the writes. No real run may skip those;
    this is how near the decode the bars could get at all on this machine (best of ``repeat``)."""
    import pyarrow.parquet as pq

    from cde_bars.catalog import builder_by_name
    from cde_bars.kernels.threshold import threshold_kernel
    from cde_bars.trade_columns import trade_columns

    files = sorted(root.rglob("part-0.parquet"))
    builder = builder_by_name("dollar")
    kernel = threshold_kernel(builder.measure, False)
    out_f, ends, counts = np.empty((6, 1 << 16)), np.empty(1 << 16, np.int64), np.empty(1 << 16, np.int64)

    def run() -> int:
        state = builder.new_state({"threshold": threshold})
        rows = 0
        for f in files:
            for batch in pq.ParquetFile(f, memory_map=True).iter_batches(batch_size=1 << 17, columns=TRADE_COLUMNS,
                                                                         use_threads=False):
                cols = trade_columns(batch)
                kernel(cols.ts, cols.price, cols.qty, cols.quote, cols.maker, 1.0, state.floats, state.ints,
                       state.ring, out_f, ends, counts, 0)
                rows += batch.num_rows
        return rows

    rows = run()  # also loads the kernel
    wall, cpu = best_of(run, repeat)
    return rows / wall, rows / cpu


def aggregate_in_child(root: Path | str, symbols: list[str], first: date, last: date, workers: int,
                       threshold: float, repeat: int = 1, env: dict[str, str] | None = None) -> dict:
    """Run ``aggregate_lake`` in a fresh process so its peak RSS is its own (best of ``repeat``);
    ``root`` a folder or ``s3://bucket/prefix`` (``env`` then points the child at the store)."""
    spec = {"root": str(root), "symbols": symbols, "start": first.isoformat(), "end": last.isoformat(),
            "workers": workers, "threshold": threshold, "repeat": repeat}
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True,
                         text=True, env=env)
    if out.returncode:
        raise RuntimeError(f"aggregation child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def child(spec_json: str) -> None:
    import shutil

    from cde_bars import AggregateRequest, aggregate_lake
    from cde_core.lake import Lake
    from cde_core.local_executor import LocalExecutor, LocalExecutorParams
    from cde_core.object_store import ObjectPath

    spec = json.loads(spec_json)
    lake = Lake(spec["root"])

    def remove_bars() -> None:
        bars = lake.root / "bars"
        if isinstance(bars, ObjectPath):
            bars.remove_tree()
        else:
            shutil.rmtree(bars, ignore_errors=True)

    request = AggregateRequest(bar="dollar", params={"threshold": spec["threshold"]}, exchange="binance",
                               market="spot", symbols=spec["symbols"], start=spec["start"], end=spec["end"])
    # load the cached kernels before timing (a first call on a tiny batch)
    from cde_bars.catalog import builder_by_name

    builder = builder_by_name("dollar")
    builder.update(builder.new_state({"threshold": 1.0}), arrow_batch(synthetic_trades(10)))
    lake.root.exists()  # and start a bucket's S3 client (SDK set-up, credentials): once per process, like the kernels
    seconds = cpu_seconds = float("inf")
    for _ in range(spec.get("repeat", 1)):  # best of: on a shared machine one run may hit a burst
        remove_bars()
        executor = LocalExecutor(LocalExecutorParams(kind="thread", max_workers=spec["workers"]))
        t0, c0 = time.perf_counter(), time.process_time()
        report = aggregate_lake(request, lake=lake, executor=executor)
        seconds = min(seconds, time.perf_counter() - t0)
        cpu_seconds = min(cpu_seconds, time.process_time() - c0)
        assert report.trades > 0 and all(s.status == "built" for s in report.symbols), report
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "trades": report.trades,
                      "bars": report.bars, "peak_rss_mb": peak_rss_mb()}))


def symbols_in_processes(root: Path, symbols: list[str], first: date, last: date, threshold: float,
                         work: str = "aggregate") -> dict:
    """One worker process per symbol, started together at a barrier each round (as the process
    executor runs them), each timing only its own job after loading the kernels, ``REPEAT`` rounds:
    per-process CPU seconds (what a core costs, whatever else shares the machine; best round) and the
    wall time from the first start to the last end (best round). ``work`` is ``aggregate``
    (``aggregate_symbol``) or ``decode`` (pyarrow's decode of the same files alone: what two processes
    can reach at best on this machine)."""
    import shutil

    shutil.rmtree(root / "bars", ignore_errors=True)  # built by the runs before: start afresh
    spec = {"root": str(root), "start": first.isoformat(), "end": last.isoformat(), "threshold": threshold,
            "work": work}
    workers = [subprocess.Popen([sys.executable, __file__, "--worker", json.dumps({**spec, "symbol": s})],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for s in symbols]
    for _ in range(REPEAT):  # a barrier per round: every worker has loaded and cleaned up before any starts
        for worker in workers:
            if worker.stdout.readline().strip() != "ready":
                raise RuntimeError(f"worker failed:\n{worker.communicate()[1][-3000:]}")
        for worker in workers:
            worker.stdin.write("go\n")
            worker.stdin.flush()
    results = []  # per worker, its rounds
    for worker in workers:
        out, err = worker.communicate()
        if worker.returncode:
            raise RuntimeError(f"worker failed:\n{err[-3000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    rounds = list(zip(*results, strict=True))  # the workers start together and do the same work
    trades = sum(r["trades"] for r in rounds[0])
    return {"trades": trades,
            "wall": min(max(r["t1"] for r in one) - min(r["t0"] for r in one) for one in rounds),
            "cpu_rates": [max(r["trades"] / r["cpu_seconds"] for r in mine) for mine in results]}


REPEAT = 3


def worker(spec_json: str) -> None:
    import shutil

    from cde_bars.catalog import builder_by_name
    from cde_bars.symbol_job import aggregate_symbol
    from cde_core.lake import Lake

    spec = json.loads(spec_json)
    params = {"threshold": spec["threshold"]}
    builder = builder_by_name("dollar")  # load the cached kernels before timing
    spec_id = builder.spec_id(builder.validate_params(params))
    builder.update(builder.new_state({"threshold": 1.0}), arrow_batch(synthetic_trades(10)))
    first, last = date.fromisoformat(spec["start"]), date.fromisoformat(spec["end"])
    files = Lake(spec["root"]).trades_files("binance", "spot", spec["symbol"], first, last)
    rounds = []
    for _ in range(REPEAT):  # the bars are rebuilt each round: force, by removing this symbol's
        shutil.rmtree(Lake(spec["root"]).bars_dir(spec_id, "binance", "spot", spec["symbol"]), ignore_errors=True)
        print("ready", flush=True)
        sys.stdin.readline()  # the parent's go: all workers start the round together
        t0, c0 = time.time(), time.process_time()
        if spec["work"] == "decode":
            trades = decode_files(files, TRADE_COLUMNS)
        else:
            trades = aggregate_symbol(spec["root"], "dollar", params, "binance", "spot", spec["symbol"],
                                      first, last).trades
        rounds.append({"t0": t0, "t1": time.time(), "cpu_seconds": time.process_time() - c0,
                       "trades": trades})
    print(json.dumps(rounds))


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM). Not ru_maxrss: Linux keeps that across fork+exec,
    so a child would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # pragma: no cover - not Linux


# -- report ------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=20_000_000)
    parser.add_argument("--python-slice", type=int, default=1_000_000)
    parser.add_argument("--lake-trades", type=int, default=0,
                        help="also aggregate a lake of this many trades")
    parser.add_argument("--lake-dir", type=Path, default=None, help="where to write the big lake")
    parser.add_argument("--only-lake", action="store_true", help="skip the in-memory part (with --lake-trades)")
    parser.add_argument("--sweep-only", action="store_true",
                        help="only the floor and the batch-size sweep of every builder's update()")
    parser.add_argument("--sweep-rounds", type=int, default=5)
    parser.add_argument("--end-to-end-only", action="store_true",
                        help="only pyarrow's decode rate and aggregate_lake on a lake of --trades trades")
    parser.add_argument("--lake-compression", default=None,
                        help="codec of the lakes written (lake.compression: zstd, lz4, …); default: config")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.lake_compression:  # before any write; the aggregation child inherits it
        os.environ["CDE_LAKE__COMPRESSION"] = args.lake_compression
    if args.child:
        child(args.child)
        return
    if args.worker:
        worker(args.worker)
        return
    if args.end_to_end_only:
        t = synthetic_trades(args.trades)
        rows = end_to_end_rows(args.trades, float(t["quote"].sum() / SPAN_DAYS / 50))
        baseline = rows.pop()
        print_table(rows, baseline[2], baseline[3] or baseline[2])  # ratios here: to pyarrow's decode
        return
    if args.only_lake:
        big_lake(args.lake_trades or 200_000_000, args.lake_dir, 19_000_000.0)
        return

    n = args.trades
    print(f"# cde bars benchmark: {n:,} trades, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    t = synthetic_trades(n)
    dollar_threshold = float(t["quote"].sum() / SPAN_DAYS / 50)  # ~50 bars a day
    volume_threshold = float(t["qty"].mean() * 1000)
    rows: list[tuple[str, str, float, float | None]] = []  # (what, cores, trades/s wall, per CPU-s)

    def measure(what: str, cores: str, fn: Callable[[], Any], count: int = n, repeat: int = 3) -> None:
        wall, cpu = best_of(fn, repeat)
        rows.append((what, cores, count / wall, count / cpu))
        print(f"  {what:<52} {count / wall / 1e6:9.1f} M trades/s wall, {count / cpu / 1e6:9.1f} per CPU-s",
              flush=True)

    read_once = floor_numba()
    measure("floor: Numba loop summing ts, price, qty", "1", lambda: read_once(t["ts"], t["price"], t["qty"]),
            repeat=5)
    measure("floor: numpy sums of ts, price, qty", "1",
            lambda: (t["ts"].sum(), t["price"].sum(), t["qty"].sum()), repeat=5)
    floor = max(rows[0][2], rows[1][2])
    floor_cpu = max(rows[0][3] or 0.0, rows[1][3] or 0.0)

    info = {"expected_ticks_init": 1000, "expected_ticks_min": 100, "expected_ticks_max": 10000}
    kernels = [("time", {"interval": "1m"}), ("tick", {"threshold": 1000}),
               ("volume", {"threshold": volume_threshold}), ("dollar", {"threshold": dollar_threshold}),
               ("dollar", {"threshold": dollar_threshold, "bars_per_day": 50}),
               *[(f"{m}_{kind}", info) for kind in ("imbalance", "run")
                 for m in ("tick", "volume", "dollar")]]
    load_before = os.getloadavg()[0]
    sweep = batch_size_sweep(kernels, t, args.sweep_rounds)
    print(f"  batch-size sweep done (load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, "
          f"{os.cpu_count()} CPUs)", flush=True)
    if args.sweep_only:
        print_table(rows, floor, floor_cpu)
        print_sweep(sweep, n, floor_cpu)
        return
    for name, params in kernels:
        label = name + (" (dynamic threshold)" if "bars_per_day" in params else "")
        measure(f"cde kernel: {label}", "1", kernel_runner(name, params, t))
    batch = arrow_batch(t)
    measure("cde builder.update, Arrow in/out: time 1m", "1",
            builder_runner("time", {"interval": "1m"}, batch))
    measure("cde builder.update, Arrow in/out: dollar", "1",
            builder_runner("dollar", {"threshold": dollar_threshold}, batch))
    halves = [{k: v[: n // 2] for k, v in t.items()}, {k: v[n // 2:] for k, v in t.items()}]
    measure("cde kernel: time 1m, 2 symbols in 2 threads", "2",
            two_symbols_in_threads("time", {"interval": "1m"}, halves))
    measure("cde kernel: dollar, 2 symbols in 2 threads", "2",
            two_symbols_in_threads("dollar", {"threshold": dollar_threshold}, halves))

    measure("polars group_by_dynamic 1m", "2", polars_dynamic(t))
    measure("DuckDB integer-floor GROUP BY 1m", "2", duckdb_floor_groupby(t))
    measure("pandas resample 1m OHLCV", "1", pandas_resample(t), repeat=1)
    measure("pandas cumsum-groupby dollar bars", "1", pandas_cumsum_groupby(t, dollar_threshold), repeat=1)
    py_n = min(args.python_slice, n)
    measure(f"pure Python loop over lists, dollar ({py_n:,} slice)", "1",
            python_loop_dollar(t, dollar_threshold, py_n), count=py_n, repeat=1)

    rows.extend(end_to_end_rows(n, dollar_threshold)[:-1])
    print_table(rows, floor, floor_cpu)
    print_sweep(sweep, n, floor_cpu)
    python_rate = next(r[2] for r in rows if r[0].startswith("pure Python"))
    dollar_rate = next(r[2] for r in rows if r[0] == "cde kernel: dollar")
    polars_rate = next(r[2] for r in rows if r[0].startswith("polars"))
    time2 = next(r[2] for r in rows if r[0].startswith("cde kernel: time 1m, 2"))
    print(f"\ncde dollar kernel / pure Python: {dollar_rate / python_rate:.0f}x; "
          f"cde time bars 2 threads / polars: {time2 / polars_rate:.1f}x")

    if args.lake_trades:
        big_lake(args.lake_trades, args.lake_dir, dollar_threshold)


def end_to_end_rows(n: int, dollar_threshold: float) -> list[tuple[str, str, float, float | None]]:
    """pyarrow's decode rate of a trades lake on one core (``read_table`` and the lake reader's
    ``iter_batches``) and, over the same files, ``aggregate_lake`` with 1 and 2 worker threads and
    ``aggregate_symbol`` in 2 worker processes, measured back to back (the lake's configured codec).
    The last row of the returned list is the decode baseline the ratios are taken to: the faster of
    the two decodes per CPU-second."""
    from cde_core.parquet_encoding import lake_compression

    codec = lake_compression()[0]
    rows: list[tuple[str, str, float, float | None]] = []
    with tempfile.TemporaryDirectory(prefix="cde-bench-lake-") as tmp:
        root = Path(tmp)
        symbols = ["BTCUSDT", "ETHUSDT"]
        first, last = write_lake(root, n, symbols, per_day=1_000_000)
        lake_trades = (((last - first).days + 1) * 1_000_000) * len(symbols)
        size_mb = sum(f.stat().st_size for f in (root / "trades").rglob("*.parquet")) / 1e6
        print(f"  trades lake: {lake_trades:,} trades, {codec}, {size_mb:.0f} MB", flush=True)
        rows.append((f"pyarrow decode ts/price/qty, {codec} Parquet", "1",
                     *decode_rate(root / "trades", ["ts", "price", "qty"])))
        rows.append((f"pyarrow decode all 6 trade columns (read_table), {codec} Parquet", "1",
                     *decode_rate(root / "trades", TRADE_COLUMNS)))
        rows.append((f"pyarrow decode all 6 trade columns (iter_batches 2^17, mmap), {codec} Parquet", "1",
                     *decode_rate(root / "trades", TRADE_COLUMNS, batches=True)))
        load = [os.getloadavg()[0]]
        for workers in (1, 2):
            result = aggregate_in_child(root, symbols, first, last, workers, dollar_threshold, repeat=3)
            label = f"end to end: aggregate_lake dollar, {codec}, {workers} worker thread(s), peak RSS " \
                    f"{result['peak_rss_mb']:.0f} MB"
            rows.append((label, str(workers), lake_trades / result["seconds"],
                         lake_trades / result["cpu_seconds"]))
            print(f"  {rows[-1][0]}: {rows[-1][2] / 1e6:.1f} M trades/s", flush=True)
        procs = symbols_in_processes(root, symbols, first, last, dollar_threshold)
        slowest = min(procs["cpu_rates"])
        rows.append((f"end to end: aggregate_symbol dollar, {codec}, 2 worker processes (slower one per CPU-s)",
                     "2", procs["trades"] / procs["wall"], slowest))
        decoders = symbols_in_processes(root, symbols, first, last, dollar_threshold, work="decode")
        rows.append((f"pyarrow decode alone (iter_batches 2^17, mmap), {codec}, 2 processes at once "
                     "(slower one per CPU-s)", "2", decoders["trades"] / decoders["wall"],
                     min(decoders["cpu_rates"])))
        rows.append((f"ceiling: decode + the dollar kernel alone (no checks, no bar assembly, no writes), {codec}",
                     "1", *kernel_ceiling(root / "trades", dollar_threshold)))
        load.append(os.getloadavg()[0])
    baseline = max(rows[1:3], key=lambda r: r[3] or 0.0)
    decode_cpu = baseline[3] or baseline[2]
    print(f"  end to end / decode of the same files per CPU-second ({baseline[0]}: {decode_cpu / 1e6:.1f} M): "
          f"1 thread {(rows[3][3] or 0) / decode_cpu:.2f}× (ceiling, decode + kernel alone: "
          f"{(rows[-1][3] or 0) / decode_cpu:.2f}×), 2 processes "
          f"{', '.join(f'{r / decode_cpu:.2f}×' for r in procs['cpu_rates'])} each (2 processes at that rate on "
          f"2 free cores: {2 * slowest / decode_cpu:.2f}×); wall, 2 processes: "
          f"{procs['trades'] / procs['wall'] / decode_cpu:.2f}× (decode alone in 2 processes: "
          f"{decoders['trades'] / decoders['wall'] / decode_cpu:.2f}×) (load average {load[0]:.1f} → "
          f"{load[1]:.1f}, {os.cpu_count()} CPUs)", flush=True)
    return [*rows, baseline]


def big_lake(total: int, where: Path | None, threshold: float) -> None:
    symbols = [f"SYM{i:02d}USDT" for i in range(4)]
    with tempfile.TemporaryDirectory(prefix="cde-bench-biglake-", dir=where) as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        first, last = write_lake(root, total, symbols, per_day=2_000_000)
        written = ((last - first).days + 1) * 2_000_000 * len(symbols)
        print(f"\n# out of core: wrote {written:,} trades ({len(symbols)} symbols × "
              f"{(last - first).days + 1} days) in {time.perf_counter() - t0:.0f}s")
        for workers in (2,):
            result = aggregate_in_child(root, symbols, first, last, workers, threshold * 4)
            print(f"| aggregate_lake dollar, {workers} workers | {written:,} trades | "
                  f"{result['seconds']:.1f} s | {written / result['seconds'] / 1e6:.1f} M trades/s | "
                  f"{written / result.get('cpu_seconds', result['seconds']) / 1e6:.1f} M per CPU-s | "
                  f"peak RSS {result['peak_rss_mb']:.0f} MB |")


def print_table(rows: list[tuple[str, str, float, float | None]], floor: float, floor_cpu: float) -> None:
    print("\n| what | threads | M trades/s (wall) | × floor | M trades per CPU-second | × floor (CPU) |")
    print("|---|---|---:|---:|---:|---:|")
    for what, cores, rate, cpu_rate in rows:
        cpu = f"{cpu_rate / 1e6:,.1f} | {cpu_rate / floor_cpu:.2f}" if cpu_rate else "– | –"
        print(f"| {what} | {cores} | {rate / 1e6:,.1f} | {rate / floor:.2f} | {cpu} |")


if __name__ == "__main__":
    main()
