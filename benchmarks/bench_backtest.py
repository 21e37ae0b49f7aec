"""Benchmark: weekly momentum long/short on 100 assets × 5 years of hourly bars, cde vs vectorbt.

Top/bottom 10 by 4-week (672-bar) log return, equal weight (gross 1), 5 bp fees, $1,000,000 start,
orders filled at the signal bar's close (vectorbt's ``from_orders(size_type="targetpercent",
cash_sharing=True, call_seq="auto")`` convention; cde ``execution="close"``). Both get the same target
weights; the NAVs are compared bar by bar.

Run: ``uv pip install vectorbt && uv run python benchmarks/bench_backtest.py`` (vectorbt is a
bench-only dependency; without it the cde numbers are still printed).
"""

BENCH_REQUIREMENTS = ["vectorbt"]

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

N_ASSETS = 100
N_BARS = 5 * 365 * 24
LOOKBACK = 672
TOP = 10
FEE_BP = 5.0
CASH = 1_000_000.0
HOUR_NS = 3_600_000_000_000


def make_market():
    """Seeded random-walk hourly bars (2019-01-01 onwards) as cde MarketArrays."""
    from cde_backtest.market import MarketArrays

    rng = np.random.default_rng(42)
    ts = np.int64(1_546_300_800) * 1_000_000_000 + np.arange(N_BARS, dtype=np.int64) * HOUR_NS
    drift = rng.normal(0, 0.0002, N_ASSETS)
    log_ret = rng.normal(drift, 0.01, (N_BARS, N_ASSETS))
    close = 100.0 * np.exp(np.cumsum(log_ret, axis=0))
    open_ = np.vstack([close[:1], close[:-1]])
    spread = np.abs(rng.normal(0, 0.004, (N_BARS, N_ASSETS)))
    high = np.maximum(open_, close) * (1 + spread)
    low = np.minimum(open_, close) * (1 - spread)
    quote_volume = rng.uniform(1e5, 1e7, (N_BARS, N_ASSETS))
    return MarketArrays(ts=ts, symbols=[f"A{k:03d}" for k in range(N_ASSETS)], open=open_, high=high, low=low,
                        close=close, quote_volume=quote_volume)


def momentum_targets(market):
    """Weekly decision mask and the momentum weights on those bars (same input for both engines)."""
    from cde_backtest.calendar import RebalanceSchedule, decision_mask
    from cde_backtest.cross_section import top_bottom_weights

    decide = decision_mask(market.ts, RebalanceSchedule(every="week"))
    logc = np.log(market.close)
    score = np.full(logc.shape, np.nan)
    score[LOOKBACK:] = logc[LOOKBACK:] - logc[:-LOOKBACK]
    weights = top_bottom_weights(score, TOP, TOP, 0.5, 0.5)
    return decide, weights


def run_cde(market, decide, weights):
    """cde with full accounting: targets, simulation (fees), trade log, NAV frame and metrics."""
    from cde_backtest.costs import CostParams, cost_model
    from cde_backtest.engines.cross_sectional import cross_sectional_targets
    from cde_backtest.portfolio import simulate
    from cde_backtest.results import BacktestResult

    targets = cross_sectional_targets(weights, decide, None)
    sim = simulate(market, targets, decide, costs=cost_model(CostParams(taker_bp=FEE_BP)), execution="close",
                   initial_cash=CASH)
    result = BacktestResult.from_simulation("cross_sectional", sim)
    trades = result.trades
    nav = result.nav
    return nav["nav"].to_numpy(), len(trades), result.metrics


def run_vectorbt(market, decide, weights):
    import pandas as pd
    import vectorbt as vbt

    index = pd.to_datetime(market.ts, utc=True)
    close = pd.DataFrame(market.close, index=index, columns=market.symbols)
    size = pd.DataFrame(np.where(decide[:, None], weights, np.nan), index=index, columns=market.symbols)
    pf = vbt.Portfolio.from_orders(close=close, size=size, size_type="targetpercent", fees=FEE_BP / 1e4,
                                   init_cash=CASH, cash_sharing=True, group_by=True, call_seq="auto", freq="1h")
    return pf.value().to_numpy(), int(pf.orders.count())


def _timed(fn, *args, repeat=1):
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - start)
    return out, times


def first_call() -> None:
    """Child process: time imports, then the first cde call (Numba cache warm, nothing else)."""
    start = time.perf_counter()
    import pandas  # noqa: F401

    import cde_backtest.engines.kernel  # imports numba; the cached kernel itself loads on first call
    import cde_backtest.portfolio  # noqa: F401

    imported = time.perf_counter() - start
    market = make_market()
    decide, weights = momentum_targets(market)
    (_, _, _), times = _timed(run_cde, market, decide, weights)
    print(json.dumps({"import_s": imported, "first_call_s": times[0]}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--first-call", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    if args.first_call:
        first_call()
        return

    market = make_market()
    decide, weights = momentum_targets(market)
    # warm the Numba cache (compiles once per machine), then measure a fresh process
    run_cde(market, decide, weights)
    child = subprocess.run([sys.executable, __file__, "--first-call"], capture_output=True, text=True, check=True)
    fresh = json.loads(child.stdout.strip().splitlines()[-1])
    (cde_nav, cde_trades, metrics), cde_times = _timed(run_cde, market, decide, weights, repeat=args.repeat)
    cde_warm = statistics.median(cde_times)

    rows = [("cde (Numba, fees + trade log + metrics)", f"{fresh['first_call_s'] * 1e3:.0f} ms",
             f"{cde_warm * 1e3:.1f} ms", f"{cde_trades:,}", f"{cde_nav[-1]:,.2f}", "")]
    try:
        import vectorbt
    except ImportError:
        vbt_line = None
    else:
        (vbt_nav, vbt_orders), vbt_first = _timed(run_vectorbt, market, decide, weights)
        (vbt_nav, vbt_orders), vbt_times = _timed(run_vectorbt, market, decide, weights, repeat=3)
        vbt_warm = statistics.median(vbt_times)
        rel = float(np.max(np.abs(vbt_nav - cde_nav) / np.abs(vbt_nav)))
        vbt_line = (vbt_first[0], vbt_warm, rel)
        rows.append((f"vectorbt {vectorbt.__version__} from_orders(targetpercent)", f"{vbt_first[0] * 1e3:.0f} ms",
                     f"{vbt_warm * 1e3:.1f} ms", f"{vbt_orders:,}", f"{vbt_nav[-1]:,.2f}",
                     f"max rel. NAV diff {rel:.1e}"))

    print(f"\n{N_ASSETS} assets × {N_BARS:,} hourly bars, weekly momentum L/S top/bottom {TOP} by "
          f"{LOOKBACK}-bar return, {FEE_BP:g} bp fees, ${CASH:,.0f}; median of {args.repeat} warm runs\n")
    header = ("engine", "first call", "warm", "fills", "final NAV", "vs cde")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\ncde in a fresh process: imports (pandas, numba, cde_backtest) {fresh['import_s'] * 1e3:.0f} ms, "
          f"then first call {fresh['first_call_s'] * 1e3:.0f} ms (Numba cache warm: loads the cached kernel); "
          f"Sharpe {metrics.sharpe:.3f}, "
          f"max drawdown {metrics.max_drawdown:.2%}")
    if vbt_line is not None:
        print(f"speed-up vs vectorbt (warm): {vbt_line[1] / cde_warm:.0f}×; NAV equal to {vbt_line[2]:.1e} relative")


if __name__ == "__main__":
    main()
