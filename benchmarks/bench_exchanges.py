"""Benchmark: one large Binance spot trades day (zip → Parquet) with the cde extractor vs pandas.

Each contender runs in a fresh subprocess (so peak RSS is its own): cde streams the zip through
pyarrow's CSV reader into a zstd Parquet partition (``TradePartitionWriter``); the baseline is
``pandas.read_csv`` (C engine, explicit dtypes) + ``DataFrame.to_parquet`` (pyarrow, zstd).

    uv run python benchmarks/bench_exchanges.py [--rows 6000000]
"""

from __future__ import annotations

BENCH_REQUIREMENTS: list[str] = []  # psutil/pandas/pyarrow are already in the workspace

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

DAY = date(2024, 3, 12)

CDE_RUN = """
import json, sys, time
from pathlib import Path
def hwm_kb():  # VmHWM is per process image (ru_maxrss would include the forking parent's peak)
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
from cde_exchanges.binance import BinanceArchive, BinanceParams
from cde_exchanges.partition_writer import TradePartitionWriter
from cde_core.lake import Provenance
zip_path, out = Path(sys.argv[1]), Path(sys.argv[2])
adapter = BinanceArchive()
file = adapter.daily_file("spot", "trades", "BTCUSDT", __import__("datetime").date(2024, 3, 12))
base = hwm_kb()
start = time.perf_counter()
writer = TradePartitionWriter(out)
for batch in adapter.read_trades(zip_path, file, BinanceParams()):
    writer.write(batch)
writer.commit(Provenance(source=str(zip_path), rows=writer.rows))
elapsed = time.perf_counter() - start
print(json.dumps({"rows": writer.rows, "seconds": elapsed, "base_kb": base,
                  "peak_kb": hwm_kb()}))
"""

PANDAS_RUN = """
import json, sys, time, zipfile
from pathlib import Path
def hwm_kb():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
import pandas as pd
import pyarrow  # noqa: F401  (the parquet engine, imported before the baseline is taken)
zip_path, out = Path(sys.argv[1]), Path(sys.argv[2])
base = hwm_kb()
start = time.perf_counter()
names = ["id", "price", "qty", "quote_qty", "time", "is_buyer_maker", "is_best_match"]
with zipfile.ZipFile(zip_path) as archive, archive.open(archive.namelist()[0]) as fh:
    frame = pd.read_csv(fh, header=None, names=names, dtype={"id": "int64", "price": "float64",
                        "qty": "float64", "quote_qty": "float64", "time": "int64"},
                        true_values=["True"], false_values=["False"])
frame["ts"] = pd.to_datetime(frame["time"], unit="ms", utc=True)
frame = frame[["ts", "id", "price", "qty", "quote_qty", "is_buyer_maker"]]
out.mkdir(parents=True, exist_ok=True)
frame.to_parquet(out / "part-0.parquet", compression="zstd", index=False)
elapsed = time.perf_counter() - start
print(json.dumps({"rows": len(frame), "seconds": elapsed, "base_kb": base,
                  "peak_kb": hwm_kb()}))
"""


def make_zip(folder: Path, rows: int) -> tuple[Path, int]:
    from cde_exchanges.archive_writer import ArchiveVariant, csv_bytes, zip_bytes
    from cde_exchanges.binance import BinanceArchive
    from cde_exchanges.synthetic_trades import random_trades

    file = BinanceArchive().daily_file("spot", "trades", "BTCUSDT", DAY)
    csv = csv_bytes(random_trades(DAY, rows), file, ArchiveVariant())
    path = folder / file.name
    path.write_bytes(zip_bytes(csv, file.name.replace(".zip", ".csv")))
    return path, len(csv)


def run(script: str, zip_path: Path, out: Path) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", script, str(zip_path), str(out)], capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=6_000_000)
    parser.add_argument("--repeat", type=int, default=2, help="best of N runs per contender")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        zip_path, csv_size = make_zip(folder, args.rows)
        print(f"generated {args.rows:,} trades: CSV {csv_size / 1e6:.0f} MB, zip "
              f"{zip_path.stat().st_size / 1e6:.0f} MB ({time.perf_counter() - t0:.0f} s)")
        with zipfile.ZipFile(zip_path) as archive:
            assert archive.infolist()[0].file_size == csv_size
        results = {}
        for name, script in (("cde extractor", CDE_RUN), ("pandas read_csv + to_parquet", PANDAS_RUN)):
            runs = [run(script, zip_path, folder / f"out-{name[:3]}-{i}") for i in range(args.repeat)]
            results[name] = min(runs, key=lambda r: r["seconds"])
    base = results["pandas read_csv + to_parquet"]
    print()
    print("| contender | rows/s | seconds | speed vs pandas | peak RSS MB | RSS above imports MB "
          "| peak RSS / CSV size |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['rows'] / r['seconds']:,.0f} | {r['seconds']:.2f} | "
              f"{base['seconds'] / r['seconds']:.2f}x | {r['peak_kb'] / 1024:.0f} | "
              f"{(r['peak_kb'] - r['base_kb']) / 1024:.0f} | {r['peak_kb'] * 1024 / csv_size:.2f} |")


if __name__ == "__main__":
    main()
