"""Benchmark: bars end to end from an S3-compatible object store vs the same lake on local disk, one run.

A trades lake (default 20 M trades: 2 symbols × 10 days × 1 M trades, the lake's configured codec) is
written to a local folder and uploaded to moto's S3 server on loopback (the server the tests use,
spoken to through pyarrow's S3 client). Then, measured in the same run and interleaved round by round
so load drifts hit both alike:

  * pyarrow's decode of the six trade columns on one thread, the files opened as the aggregation opens
    them (``cde_bars.trade_files.TradeFileOpener``): memory-mapped from disk; fetched whole, the next
    days read ahead concurrently, from the bucket;
  * ``aggregate_lake`` (dollar bars, ``--workers`` workers) in a fresh child process with
    ``data_root`` the folder, then ``s3://bench/lake`` — trades read from and bars written to the store
    (the Numba kernels and the S3 client are set up before the clock starts: once per process).

Prints M trades/s (best of ``--rounds``, wall and the child's CPU-seconds; the S3 server's own CPU is
reported apart: on a real store it is somebody else's machine) and the ratio bucket / disk (issue #17
target: ≥ 0.7×). moto is a Python server: it serves a few hundred MB/s on this VM, far below a real
store's aggregate bandwidth, so the ratio is a floor for loopback MinIO or S3 from the same region.

    uv run python benchmarks/bench_object_store.py [--trades 20000000] [--rounds 3] [--workers 1]
"""

from __future__ import annotations

BENCH_REQUIREMENTS = ["moto[server]", "pytest"]  # the loopback S3 server; its launcher is a pytest plugin module

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))

from bench_bars import SPAN_DAYS, TRADE_COLUMNS, aggregate_in_child, synthetic_trades, write_lake  # noqa: E402

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
PER_DAY = 1_000_000


def decode(files: list) -> tuple[float, float]:
    """(wall s, CPU s) to decode the six trade columns of ``files`` on one thread, in 2^17-row batches."""
    from cde_bars.trade_files import TradeFileOpener

    t0, c0 = time.perf_counter(), time.process_time()
    opener = TradeFileOpener(files)
    rows = 0
    for index in range(len(files)):
        for batch in opener.open(index).iter_batches(batch_size=1 << 17, columns=TRADE_COLUMNS,
                                                     use_threads=False):
            rows += batch.num_rows
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=20_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    import psutil
    import pyarrow.fs as pafs

    from cde_core.lake_location import lake_location
    from cde_core.parquet_encoding import lake_compression
    from cde_core.testing.s3_server import running_s3_server

    load = os.getloadavg()
    print(f"# bars from an object store vs local disk: {args.trades:,} trades, {os.cpu_count()} CPUs, "
          f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="cde-bench-s3-") as tmp, running_s3_server(Path(tmp) / "s3") as server:
        root = Path(tmp) / "lake"
        first, last = write_lake(root, args.trades, SYMBOLS, per_day=PER_DAY)
        trades = ((last - first).days + 1) * PER_DAY * len(SYMBOLS)
        files = sorted((root / "trades").rglob("part-0.parquet"))
        size_mb = sum(f.stat().st_size for f in files) / 1e6
        os.environ.update(server.env)
        os.environ["CDE_CACHE_DIR"] = str(Path(tmp) / "cache")
        bucket = server.create_bucket("bench")
        url = f"s3://{bucket}/lake"
        t0 = time.perf_counter()
        remote = lake_location(url)
        pafs.copy_files(str(root / "trades"), (remote / "trades").key, source_filesystem=pafs.LocalFileSystem(),
                        destination_filesystem=remote.fs, use_threads=True)
        print(f"  lake: {trades:,} trades in {len(files)} day files, {lake_compression()[0]}, {size_mb:.0f} MB; "
              f"uploaded to {server.endpoint} in {time.perf_counter() - t0:.1f} s", flush=True)
        objects = [remote / f.relative_to(root).as_posix() for f in files]
        threshold = float(synthetic_trades(1_000_000)["quote"].sum()) * trades / 1_000_000 / SPAN_DAYS / 50
        env = {**os.environ}
        moto = psutil.Process(server.process.pid)
        best: dict[str, list[float]] = {}
        for round_ in range(args.rounds):
            for label, fn in (("decode disk", lambda: decode(files)), ("decode bucket", lambda: decode(objects))):
                wall, cpu = fn()
                best.setdefault(label, [wall, cpu, 0.0])
                best[label][:2] = min(best[label][0], wall), min(best[label][1], cpu)
            for label, where in (("aggregate disk", str(root)), ("aggregate bucket", url)):
                server_cpu = sum(moto.cpu_times()[:2])
                result = aggregate_in_child(where, SYMBOLS, first, last, args.workers, threshold, env=env)
                server_cpu = sum(moto.cpu_times()[:2]) - server_cpu
                assert result["trades"] == trades, result
                previous = best.get(label, [float("inf")] * 3)
                if result["seconds"] < previous[0]:
                    best[label] = [result["seconds"], result["cpu_seconds"], server_cpu]
            print(f"  round {round_ + 1}: " + ", ".join(f"{k} {trades / v[0] / 1e6:.1f}" for k, v in best.items())
                  + " M trades/s (best so far)", flush=True)
    print("\n| what | M trades/s (wall) | M trades per CPU-s | S3 server CPU-s |")
    print("|---|---:|---:|---:|")
    for label, (wall, cpu, server_cpu) in best.items():
        print(f"| {label} | {trades / wall / 1e6:.1f} | {trades / cpu / 1e6:.1f} | "
              f"{server_cpu:.1f} |" if "bucket" in label and "aggregate" in label else
              f"| {label} | {trades / wall / 1e6:.1f} | {trades / cpu / 1e6:.1f} | – |")
    ratio = best["aggregate disk"][0] / best["aggregate bucket"][0]
    decode_ratio = best["decode disk"][0] / best["decode bucket"][0]
    print(f"\nbars end to end, bucket / disk: {ratio:.2f}× (wall; target ≥ 0.7×); "
          f"decode alone {decode_ratio:.2f}×; load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
