"""Benchmark: one large Binance spot trades day (zip → Parquet) with the cde extractor vs pandas.

Each contender runs in a fresh subprocess (so peak RSS is its own): cde runs the real extraction job
(``extract_symbol``: zip member inflated in a reader thread, parsed in bounded pieces, validated, routed
to its day and written as a zstd Parquet partition with provenance); the baseline is
``pandas.read_csv`` (C engine, explicit dtypes) + ``DataFrame.to_parquet`` (pyarrow, zstd). cde also
runs on days a third and three times the size, to show that its memory does not grow with the file.

    uv run python benchmarks/bench_exchanges.py [--rows 6000000]
"""

from __future__ import annotations

BENCH_REQUIREMENTS: list[str] = []  # psutil/pandas/pyarrow are already in the workspace

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

DAY = date(2024, 3, 12)

# VmHWM is per process image (ru_maxrss would include the forking parent's peak)
HWM = """
def hwm_kb():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
"""

BASELINE_RUN = HWM + """
import json
import pyarrow, pyarrow.csv, pyarrow.parquet, pyarrow.compute  # noqa: E401,F401
print(json.dumps({"base_kb": hwm_kb()}))
"""

CDE_RUN = HWM + """
import json, sys, time
from datetime import date
from pathlib import Path
from cde_exchanges.formats.binance import BinanceArchive, BinanceParams
from cde_exchanges.extraction.trade_extractor import SourceZip, SymbolExtraction, extract_symbol
zip_path, out = Path(sys.argv[1]), Path(sys.argv[2])
adapter, day = BinanceArchive(), date(2024, 3, 12)
file = adapter.daily_file("spot", "trades", "BTCUSDT", day)
job = SymbolExtraction(adapter, BinanceParams(), out, "spot", "trades", "BTCUSDT",
                       (SourceZip(file, zip_path, zip_path.as_uri(), None),), frozenset({day}))
base = hwm_kb()
start, cpu = time.perf_counter(), time.process_time()
(outcome,) = extract_symbol(job)
assert outcome.status == "written", outcome
print(json.dumps({"rows": outcome.rows, "seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu,
                  "base_kb": base, "peak_kb": hwm_kb()}))
"""

PANDAS_RUN = HWM + """
import json, sys, time, zipfile
from pathlib import Path
import pandas as pd
import pyarrow  # noqa: F401  (the parquet engine, imported before the baseline is taken)
zip_path, out = Path(sys.argv[1]), Path(sys.argv[2])
base = hwm_kb()
start, cpu = time.perf_counter(), time.process_time()
names = ["id", "price", "qty", "quote_qty", "time", "is_buyer_maker", "is_best_match"]
with zipfile.ZipFile(zip_path) as archive, archive.open(archive.namelist()[0]) as fh:
    frame = pd.read_csv(fh, header=None, names=names, dtype={"id": "int64", "price": "float64",
                        "qty": "float64", "quote_qty": "float64", "time": "int64"},
                        true_values=["True"], false_values=["False"])
frame["ts"] = pd.to_datetime(frame["time"], unit="ms", utc=True)
frame = frame[["ts", "id", "price", "qty", "quote_qty", "is_buyer_maker"]]
out.mkdir(parents=True, exist_ok=True)
frame.to_parquet(out / "part-0.parquet", compression="zstd", index=False)
print(json.dumps({"rows": len(frame), "seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu,
                  "base_kb": base, "peak_kb": hwm_kb()}))
"""


def make_zip(folder: Path, rows: int) -> tuple[Path, int]:
    from cde_exchanges.fakes.archive_writer import ArchiveVariant, csv_bytes, zip_bytes
    from cde_exchanges.fakes.synthetic_trades import random_trades
    from cde_exchanges.formats.binance import BinanceArchive

    file = BinanceArchive().daily_file("spot", "trades", "BTCUSDT", DAY)
    csv = csv_bytes(random_trades(DAY, rows), file, ArchiveVariant())
    path = folder / file.name
    path.write_bytes(zip_bytes(csv, file.name.replace(".zip", ".csv")))
    return path, len(csv)


def run(script: str, *args: Path) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def best(script: str, zip_path: Path, folder: Path, repeat: int) -> dict[str, float]:
    runs = [run(script, zip_path, folder / f"out-{i}") for i in range(repeat)]
    return min(runs, key=lambda r: r["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=6_000_000)
    parser.add_argument("--repeat", type=int, default=2, help="best of N runs per contender")
    args = parser.parse_args()
    # the day of the comparison, and a third and three times its size: peak RSS must not follow the file
    sizes = {"day": args.rows, "third": args.rows // 3, "triple": args.rows * 3}
    with tempfile.TemporaryDirectory() as tmp:
        zips: dict[str, tuple[Path, int]] = {}
        t0 = time.perf_counter()
        for label, rows in sizes.items():
            folder = Path(tmp) / label
            folder.mkdir()
            zips[label] = make_zip(folder, rows)
            with zipfile.ZipFile(zips[label][0]) as archive:
                assert archive.infolist()[0].file_size == zips[label][1]
        print("generated " + "; ".join(f"{sizes[k]:,} trades: CSV {size / 1e6:.0f} MB, zip "
                                       f"{path.stat().st_size / 1e6:.0f} MB" for k, (path, size) in zips.items())
              + f" ({time.perf_counter() - t0:.0f} s)")
        imports = run(BASELINE_RUN)["base_kb"]

        def contender(script: str, label: str) -> dict[str, float]:
            path = zips[label][0]
            return best(script, path, path.parent, args.repeat)

        rows = [
            ("cde extractor", contender(CDE_RUN, "day"), zips["day"][1]),
            ("pandas read_csv + to_parquet", contender(PANDAS_RUN, "day"), zips["day"][1]),
            (f"cde extractor, {sizes['third']:,} rows", contender(CDE_RUN, "third"), zips["third"][1]),
            (f"cde extractor, {sizes['triple']:,} rows", contender(CDE_RUN, "triple"), zips["triple"][1]),
        ]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"python + pyarrow (csv, parquet, compute) imported: {imports / 1024:.0f} MB; "
          f"load average (1/5/15 min) after the runs: {load} on {os.cpu_count()} cores")
    pandas_rate = rows[1][1]["rows"] / rows[1][1]["seconds"]
    print()
    print("| contender | rows/s | wall s | CPU s | speed vs pandas | peak RSS MB | RSS above imports MB "
          "| CSV/4 MB | peak RSS / CSV size |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r, size in rows:
        print(f"| {name} | {r['rows'] / r['seconds']:,.0f} | {r['seconds']:.2f} | {r['cpu']:.2f} | "
              f"{r['rows'] / r['seconds'] / pandas_rate:.2f}x | {r['peak_kb'] / 1024:.0f} | "
              f"{(r['peak_kb'] - r['base_kb']) / 1024:.0f} | {size / 4 / 2**20:.0f} | "
              f"{r['peak_kb'] * 1024 / size:.2f} |")


if __name__ == "__main__":
    main()
