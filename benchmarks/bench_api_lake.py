"""Benchmark: ``GET /lake`` latency with 20 concurrent clients on the demo lake (issue 19, item 9).

Builds the demo lake (``cde demo``, offline) unless ``--lake`` names one, serves it with ``cde serve``'s
app under uvicorn (in-memory tasks, loopback), and has ``--clients`` threads each send ``--requests``
``GET /lake`` requests back to back. Prints the lake's partition count, one fresh scan's time (what every
request cost before the inventory was cached) and the latency percentiles seen by the clients.

    uv run python benchmarks/bench_api_lake.py [--lake PATH] [--clients 20] [--requests 50]
"""

from __future__ import annotations

BENCH_REQUIREMENTS: list[str] = []  # httpx is already in the workspace

import argparse  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import httpx  # noqa: E402


def demo_lake(root: Path) -> Path:
    subprocess.run([sys.executable, "-m", "cde_server.cli.main", "demo", "--data-root", str(root)], check=True,
                   stdout=subprocess.DEVNULL)
    return root / "lake"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lake", type=Path, help="a lake to serve (default: build the demo lake)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=50, help="requests per client")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lake = args.lake or demo_lake(Path(tmp) / "demo")
        from cde_core.lake import Lake
        from cde_exchanges.lake_inventory import inventory

        files = sum(1 for _ in lake.rglob("part-0.parquet"))
        started = time.perf_counter()
        inventory(Lake(lake))
        scan_s = time.perf_counter() - started

        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CDE_")}
        env.update({"CDE_DATA_ROOT": str(lake), "CDE_TASK_STORE": "memory"})
        server = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory",
                                   "cde_server.api.app:app_from_environment", "--host", "127.0.0.1",
                                   "--port", str(port), "--log-level", "warning"], env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            while True:
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            httpx.get(f"{url}/lake", timeout=60)  # the first request builds the inventory
            latencies: list[float] = []
            lock = threading.Lock()
            barrier = threading.Barrier(args.clients)

            def client() -> None:
                with httpx.Client(base_url=url, timeout=60) as http:
                    barrier.wait()
                    for _ in range(args.requests):
                        begin = time.perf_counter()
                        http.get("/lake").raise_for_status()
                        with lock:
                            latencies.append(time.perf_counter() - begin)

            threads = [threading.Thread(target=client) for _ in range(args.clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            server.terminate()
            server.wait(timeout=30)
    ms = [v * 1000 for v in latencies]
    print(f"lake: {files} partitions; one fresh scan: {scan_s * 1000:.0f} ms")
    print(f"GET /lake, {args.clients} clients x {args.requests} requests: p50 {percentile(ms, 50):.1f} ms, "
          f"p90 {percentile(ms, 90):.1f} ms, p99 {percentile(ms, 99):.1f} ms, max {max(ms):.1f} ms")


if __name__ == "__main__":
    main()
