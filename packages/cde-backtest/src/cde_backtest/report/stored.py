"""Re-draw the tear sheet of a stored run from its folder (REST pages, `cde backtest report`)."""

from __future__ import annotations

from cde_backtest.report.tear_sheet import ReportInputs
from cde_backtest.run_store import StoredRun


def stored_report_inputs(stored: StoredRun) -> ReportInputs:
    """The run folder's files as report inputs (runs saved before ``data.initial_cash`` / ``last_close``
    were recorded fall back to the engine parameters, and value open round trips as unknown)."""
    config = stored.config
    data = config.get("data", {})
    cash = data.get("initial_cash") or config.get("resolved", {}).get("engine_params", {}).get("initial_cash")
    nav = stored.nav.copy()
    if cash is None:  # the first bar's return recovers the cash it started from
        cash = float(nav["nav"].iloc[0] / (1.0 + nav["returns"].iloc[0]))
    strategy = config.get("request", {}).get("strategy", "run")
    return ReportInputs(title=f"{strategy} — {stored.run_id}", nav=nav, contributions=stored.contributions,
                        metrics=stored.metrics, initial_cash=float(cash), trades=stored.trades, config=config,
                        last_close={str(k): float(v) for k, v in data.get("last_close", {}).items()},
                        notices=[str(n) for n in config.get("notices", [])])
