"""``cde aggregate`` and ``cde bars builders``: thin CLI over :func:`cde_bars.aggregate.aggregate_lake`."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from cde_bars.requests import DEFAULT_BATCH_ROWS
from cde_core.errors import ConfigError, first_validation_problem

bars_app = typer.Typer(help="Bar builders: list them and their parameters.", no_args_is_help=True)


def _parse_params(pairs: list[str]) -> dict[str, Any]:
    from cde_core.yaml_text import flag_value

    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param '{pair}' is not key=value", hint="e.g. --param ewma_bars=50")
        params[key.strip()] = flag_value(raw)
    return params


def aggregate_command(
    bar: Annotated[str, typer.Option("--bar", "-b", help="builder: time, tick, volume, dollar, "
                                     "tick_imbalance, volume_run, … (see `cde bars builders`)")],
    exchange: Annotated[str, typer.Option(help="exchange of the trades lake, e.g. binance")],
    market: Annotated[str, typer.Option(help="market, e.g. spot")],
    symbols: Annotated[str, typer.Option(help="comma-separated symbols, e.g. BTCUSDT,ETHUSDT")],
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="first day (UTC), inclusive")],
    end: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="last day (UTC), inclusive")],
    interval: Annotated[str | None, typer.Option(help="time bars: 1s … 1d, e.g. 1m, 1h")] = None,
    fill: Annotated[bool | None, typer.Option("--fill", help="time bars: emit empty intervals")] = None,
    threshold: Annotated[float | None, typer.Option(help="tick/volume/dollar: trades, base or quote units "
                                                    "per bar (initial value when dynamic)")] = None,
    bars_per_day: Annotated[float | None, typer.Option(help="dynamic threshold: target bars per day from "
                                                       "the trailing daily measure")] = None,
    window_days: Annotated[int | None, typer.Option(help="dynamic threshold: trailing days")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="any builder parameter as "
                                                    "key=value (repeatable)")] = None,
    flush: Annotated[bool, typer.Option("--flush", help="also write the unfinished last bar")] = False,
    batch_rows: Annotated[int, typer.Option(help="trades per streamed batch")] = DEFAULT_BATCH_ROWS,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Build bars from the trades lake into the bars lake (streaming, resumable, parallel per symbol)."""
    from cde_bars.aggregate import aggregate_lake
    from cde_bars.requests import AggregateRequest
    from cde_core.console import progress_bar

    params = {k: v for k, v in {"interval": interval, "fill": fill, "threshold": threshold,
                                "bars_per_day": bars_per_day, "window_days": window_days}.items()
              if v is not None}
    params.update(_parse_params(param or []))
    try:
        request = AggregateRequest(bar=bar, params=params, exchange=exchange, market=market,
                                   symbols=[s.strip() for s in symbols.split(",") if s.strip()],
                                   start=start.date(), end=end.date(), flush=flush, batch_rows=batch_rows)
    except ValidationError as exc:
        key, message = first_validation_problem(exc, root="request")
        raise ConfigError(f"bad aggregate request: {key}: {message}", where="cde aggregate",
                          hint="see `cde aggregate --help`") from None
    with progress_bar(f"{bar} bars") as progress:
        report = aggregate_lake(request, progress=progress)
    for s in report.symbols:  # stderr: --json stays one JSON document
        if s.missing_days:
            asked = (request.end - request.start).days + 1
            typer.echo(f"warning: {s.symbol}: no trades on {len(s.missing_days)} of {asked} days asked, so "
                       f"no bars there: {_days(s.missing_days)} (see `cde lake ls`)", err=True)
    if as_json:
        typer.echo(report.model_dump_json(indent=1))
        return
    typer.echo(f"spec {report.spec_id}: {report.bars} bars from {report.trades} trades "
               f"in {report.seconds:.1f}s")
    for s in report.symbols:
        extra = f", resumed after {s.resumed_from}" if s.resumed_from else ""
        typer.echo(f"  {s.symbol}: {s.status}, {s.days} days, {s.trades} trades, {s.bars} bars{extra}")


def _days(days: list[date]) -> str:
    """Consecutive days as ranges: ``2024-01-10, 2024-01-14 … 2024-01-16`` (at most 10 listed)."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and (day - runs[-1][1]).days == 1:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    shown = [str(a) if a == b else f"{a} … {b}" for a, b in runs[:10]]
    return ", ".join(shown) + (f" and {len(runs) - 10} more" if len(runs) > 10 else "")


@bars_app.command("builders")
def builders_command(as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False) -> None:
    """List registered bar builders and their parameters."""
    from cde_core.plugins import get_plugins

    rows = []
    for entry in get_plugins().bar_builders:
        schema = entry.obj.Params.model_json_schema()
        rows.append({"name": entry.name, "summary": entry.summary, "distribution": entry.distribution,
                     "params": {k: v.get("description", "")
                                for k, v in schema.get("properties", {}).items()}})
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    for row in rows:
        typer.echo(f"{row['name']:<18} {row['summary']}")
        for key, text in row["params"].items():
            typer.echo(f"    {key:<22} {text}")


def add_commands(app: typer.Typer) -> None:
    app.command("aggregate")(aggregate_command)
    app.add_typer(bars_app, name="bars")
