"""Strategy and benchmark metrics side by side, plus beta, alpha and correlation to the benchmark."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cde_backtest.metrics import NOISE, Metrics, compute_metrics
from cde_backtest.report.labels import METRIC_LABELS, format_value
from cde_core.visual.page import table_html

#: rows both columns have; the rest of Metrics describes trading, which a buy-and-hold has not
SHARED = ("total_return", "cagr", "annual_volatility", "sharpe", "sortino", "max_drawdown", "calmar",
          "max_drawdown_duration_days")
RELATIVE = ("beta", "alpha", "correlation")
STRATEGY_ONLY = ("turnover", "avg_gross_exposure", "avg_net_exposure", "hit_rate", "profit_factor",
                 "total_fees", "total_slippage", "total_funding", "n_trades", "periods_per_year", "years")


def benchmark_metrics(nav: pd.DataFrame, initial_cash: float) -> Metrics:
    """The benchmark's metrics, by the same definitions as the strategy's (a fully invested, never
    trading portfolio)."""
    bench = nav["benchmark"].to_numpy(dtype=np.float64)
    ones = np.ones(len(bench))
    return compute_metrics(bench, nav.index.asi8, initial_cash=initial_cash, traded=np.zeros(len(bench)),
                           gross=ones, net=ones)


def relative_stats(strategy: np.ndarray, benchmark: np.ndarray, periods_per_year: float) -> dict[str, float]:
    """OLS beta of per-bar strategy returns on benchmark returns, annualised alpha (mean residual return
    × bars per year) and the Pearson correlation; NaN when the benchmark does not move."""
    ok = np.isfinite(strategy) & np.isfinite(benchmark)
    s, b = strategy[ok], benchmark[ok]
    if len(s) < 2 or np.std(b) <= NOISE:  # a benchmark that does not move (rounding aside)
        return {"beta": math.nan, "alpha": math.nan, "correlation": math.nan}
    cov = float(np.mean((s - s.mean()) * (b - b.mean())))
    beta = cov / float(np.var(b))
    alpha = (float(s.mean()) - beta * float(b.mean())) * periods_per_year
    corr = cov / float(np.std(s) * np.std(b)) if np.std(s) > NOISE else math.nan
    return {"beta": beta, "alpha": alpha, "correlation": corr}


def bar_returns(nav: pd.Series, initial_cash: float) -> np.ndarray:
    values = nav.to_numpy(dtype=np.float64)
    return values / np.concatenate([[initial_cash], values[:-1]]) - 1.0


def comparison_table(metrics: Metrics, bench: Metrics | None, relative: dict[str, float]) -> str:
    """Label | strategy | benchmark, with units."""
    strategy_values = metrics.model_dump()
    bench_values = bench.model_dump() if bench is not None else {}
    rows = []
    for key in (*SHARED, *RELATIVE, *STRATEGY_ONLY):
        label, unit = METRIC_LABELS[key]
        mine = relative[key] if key in RELATIVE else strategy_values[key]
        theirs = bench_values.get(key) if key in SHARED else (1.0 if key in ("beta", "correlation") else
                                                              (0.0 if key == "alpha" else None))
        if bench is None:
            theirs = None
        rows.append([label, format_value(unit, mine), format_value(unit, theirs)])
    return table_html(["metric", "strategy", "benchmark"], rows, css="data metrics")
