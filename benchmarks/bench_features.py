"""Benchmark: the default feature set over 100 symbols × 1 year of 1 h bars.

Runs, in one process on the same synthetic panel:
  * the Numba calculator (`UnifiedFeatureCalculator`, local thread executor, 2 workers and 1 worker),
    after a small warm-up call that loads the cached Numba kernels;
  * the baseline: a straightforward pandas implementation of the same factors
    (`cde_features.reference.reference_features`: groupby per symbol, rolling, ewm, rolling.apply).
Prints a table with each wall time, CPU time (all threads; user + system, the system part is mostly
page faults of fresh memory) and the speed-up against the pandas baseline, with the load average
before and after (other engineers' jobs share the machine: compare CPU seconds when it is loaded).

    uv run python benchmarks/bench_features.py [--symbols 100] [--bars 8760] [--skip-baseline]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--bars", type=int, default=24 * 365)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()

    from cde_core.local_executor import LocalExecutor, LocalExecutorParams
    from cde_features.calculator import UnifiedFeatureCalculator
    from cde_features.reference import reference_features
    from cde_features.synthetic import synthetic_panel

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    panel = synthetic_panel(args.symbols, args.bars, seed=7)
    small = synthetic_panel(4, 800, seed=8)
    rows = []

    t0 = time.perf_counter()
    UnifiedFeatureCalculator().compute(small)
    warmup = time.perf_counter() - t0

    results = {}
    for workers in (2, 1):
        calc = UnifiedFeatureCalculator(executor=LocalExecutor(LocalExecutorParams(max_workers=workers)))
        t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        out = calc.compute(panel)
        elapsed, (cpu, sys_cpu) = time.perf_counter() - t0, _cpu_since(r0)
        results[workers] = out
        rows.append((f"numba calculator, {workers} thread(s)", elapsed, cpu, sys_cpu, out.shape[1]))

    builtin = [r for r in calc.factors if r.distribution == "cde-features"]
    specs = [(r.name, {**r.params.model_dump(), "_lookback": r.lookback}) for r in builtin]
    baseline = None
    if not args.skip_baseline:
        t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        ref = reference_features(panel, specs)
        baseline, (baseline_cpu, baseline_sys) = time.perf_counter() - t0, _cpu_since(r0)
        rows.append(("pandas baseline (same factors)", baseline, baseline_cpu, baseline_sys, ref.shape[1]))
        ours = results[2][ref.columns]
        close = np.isclose(ours.to_numpy(), ref.to_numpy(), rtol=1e-6, atol=1e-9, equal_nan=True).mean()
    print(f"\nfeatures benchmark: {args.symbols} symbols x {args.bars} bars = {len(panel):,} rows; "
          f"{platform.python_version()}, {os.cpu_count()} CPU(s); kernel load/compile warm-up {warmup:.2f} s")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average before {load_before:.1f}, after {load:.1f} (1 min; other processes share the CPUs "
          "when it exceeds the CPU count)")
    print(f"{'implementation':<36}{'columns':>8}{'wall s':>9}{'cpu s':>9}{'(sys)':>8}{'rows/s':>12}"
          f"{'wall vs pandas':>16}{'cpu vs pandas':>15}")
    for name, seconds, cpu, sys_cpu, ncols in rows:
        ratio = f"{baseline / seconds:.1f}x" if baseline else "-"
        cpu_ratio = f"{baseline_cpu / cpu:.1f}x" if baseline else "-"
        print(f"{name:<36}{ncols:>8}{seconds:>9.2f}{cpu:>9.2f}{sys_cpu:>8.2f}{len(panel) / seconds:>12,.0f}"
              f"{ratio:>16}{cpu_ratio:>15}")
    if baseline is not None:
        print(f"cells equal to the baseline (rtol 1e-6): {close:.6%}")


def _cpu_since(before: resource.struct_rusage) -> tuple[float, float]:
    """(user + system, system) CPU seconds of this process (all threads) since ``before``."""
    now = resource.getrusage(resource.RUSAGE_SELF)
    system = now.ru_stime - before.ru_stime
    return now.ru_utime - before.ru_utime + system, system


if __name__ == "__main__":
    main()
