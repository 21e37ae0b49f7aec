"""What produced the run: the strategy and its parameters, the engine, and the data (bars, features,
universe, period) — read from the run's ``config.yaml`` dict so a stored run renders the same."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from cde_backtest.report.benchmark import benchmark_label
from cde_core.visual.page import table_html


def _flatten(values: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            rows.extend(_flatten(value, f"{name}."))
        elif value is None:  # an unset limit or option: "none" in words, not JSON's null
            rows.append((name, "none"))
        else:
            rows.append((name, value if isinstance(value, str) else json.dumps(value, default=str)))
    return rows


def _symbols(symbols: list[str]) -> str:
    shown = ", ".join(symbols[:30])
    return f"{len(symbols)}: {shown}" + (f" … and {len(symbols) - 30} more" if len(symbols) > 30 else "")


def when(value: Any) -> str:
    """An ISO time from config.yaml as ``YYYY-MM-DD HH:MM`` (UTC); anything else unchanged."""
    try:
        return pd.Timestamp(value).tz_convert("UTC").strftime("%Y-%m-%d %H:%M")
    except (ValueError, TypeError):
        return str(value)


def data_rows(config: dict[str, Any], warmup: str) -> list[list[str]]:
    request = config.get("request", {})
    data = config.get("data", {})
    universe = request.get("universe")
    rows = [
        ["bars", f"bars/spec={request.get('bars')}"],
        ["features", f"features/spec={request['features']}" if request.get("features") else "computed from bars"],
        ["exchange / market", f"{request.get('exchange')} / {request.get('market')}"],
        ["symbols", _symbols(list(data.get("symbols", [])))],
        ["universe", f"point-in-time, {len(universe)} dates" if universe else "every symbol, every bar"],
        ["period (UTC)", f"{when(data.get('start', '?'))} → {when(data.get('end', '?'))}"],
        ["bars in the run", f"{data.get('bars', 0):,}"],
        ["warm-up", warmup],
        ["benchmark", benchmark_label(request.get("benchmark"))],
    ]
    return rows


def setup_html(config: dict[str, Any], warmup: str) -> str:
    """Two tables: strategy + engine parameters, and the data."""
    request = config.get("request", {})
    resolved = config.get("resolved", {})
    params = [["strategy", str(request.get("strategy", "?"))]]
    params += [[k, v] for k, v in _flatten(resolved.get("strategy_params", request.get("params", {})))]
    params += [["engine", str(resolved.get("engine", "?"))]]
    params += [[f"engine.{k}", v] for k, v in _flatten(resolved.get("engine_params", request.get("engine", {})))]
    return ('<div class="pair">' + table_html(["parameter", "value"], params, css="data setup")
            + table_html(["data", "value"], data_rows(config, warmup), css="data setup") + "</div>")
