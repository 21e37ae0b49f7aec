"""`cde backtest run|ls|show|delete|sweep|strategies|signals|engines` — thin: parse, call the service,
print. Heavy modules load inside the commands so `cde --help` stays fast."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

backtest_app = typer.Typer(help="backtest strategies on lake bars and features; list and show runs",
                           no_args_is_help=True)


def _lake(root: str | None):  # type: ignore[no-untyped-def]
    from cde_core.config import get_config
    from cde_core.lake import Lake

    return Lake(root or get_config().data_root)


# a str, not a Path: typer would turn s3://bucket/lake into the local folder s3:/bucket/lake
LakeOption = Annotated[str | None, typer.Option("--lake", help="lake root: a folder or s3://bucket/prefix "
                                                "(default: data_root from config)")]


def _metrics_table(metrics, title: str):  # type: ignore[no-untyped-def]
    from rich.table import Table

    from cde_backtest.report.labels import format_metric, metric_label

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("key", style="dim")
    for key, value in metrics.model_dump().items():
        table.add_row(metric_label(key), format_metric(key, value), key)
    return table


@backtest_app.command("run")
def run_command(
    config: Annotated[Path | None, typer.Option("--config", help="run.yaml with the BacktestRequest fields")] = None,
    strategy: Annotated[str | None, typer.Option("--strategy", help="strategy name (overrides the file)")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="dotted override, e.g. "
                                                         "engine.costs.taker_bp=4 (repeatable)")] = None,
    lake_root: LakeOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
    self_contained: Annotated[bool, typer.Option("--self-contained", help="inline plotly.js in the report "
                                                 "(one file to mail, ~4.6 MB) instead of the lake's shared "
                                                 "assets/ copy")] = False,
) -> None:
    """Run one backtest and print its metrics and the path of its HTML report."""
    from cde_backtest.request_file import build_request, parse_overrides, read_yaml
    from cde_backtest.service import run_backtest
    from cde_core.console import progress_bar, table_console

    data = read_yaml(config) if config else {}
    extra = parse_overrides(overrides or [])
    if strategy:
        extra["strategy"] = strategy
    request = build_request(data, extra, where=str(config or "command line"))
    with progress_bar(f"backtest {request.strategy}") as progress:
        result = run_backtest(request, _lake(lake_root), progress=progress, self_contained=self_contained)
    if as_json:  # NaN as null and ±inf as "inf"/"-inf", as in metrics.json, show --json and the REST routes
        from cde_backtest.run_store import _json_safe

        typer.echo(json.dumps(_json_safe(result.model_dump(mode="json")), indent=2, default=str))
        return
    console = table_console()
    console.print(_metrics_table(result.metrics, f"{result.strategy} on {len(result.symbols)} symbols, "
                                                 f"{result.n_bars} bars ({result.engine})"))
    for notice in result.notices:
        typer.echo(f"notice: {notice}")
    typer.echo(f"run: {result.run_id}")
    typer.echo(f"report: {result.report}")


@backtest_app.command("ls")
def ls_command(lake_root: LakeOption = None,
               as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """List stored runs."""
    from rich.table import Table

    from cde_backtest.report.labels import format_metric as _fmt
    from cde_backtest.run_store import RunStore, _json_safe
    from cde_core.console import table_console
    from cde_core.lake_names import absent_lake

    lake = _lake(lake_root)
    missing = absent_lake(lake.root)
    if missing is not None:
        raise missing
    runs = RunStore(lake).list()
    if as_json:
        typer.echo(json.dumps([_json_safe(r.model_dump()) for r in runs], indent=2, default=str))
        return
    table = Table(title=f"{len(runs)} backtest run(s)")
    table.add_column("run id", no_wrap=True)
    for column in ("strategy", "total return", "sharpe", "max drawdown"):
        table.add_column(column)
    for r in runs:
        table.add_row(r.run_id, r.strategy, _fmt("total_return", r.total_return),  # None (undefined): —
                      _fmt("sharpe", r.sharpe), _fmt("max_drawdown", r.max_drawdown))
    table_console().print(table)


@backtest_app.command("show")
def show_command(run_id: Annotated[str, typer.Argument(help="run id (see `cde backtest ls`)")],
                 lake_root: LakeOption = None,
                 as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Show a run's configuration, metrics and report path."""
    import yaml

    from cde_backtest.run_store import RunStore, _json_safe
    from cde_core.console import table_console

    store = RunStore(_lake(lake_root))
    metrics, config, folder = store.metrics(run_id), store.config(run_id), store.path(run_id)
    if as_json:
        typer.echo(json.dumps({"run_id": run_id, "config": config, "metrics": _json_safe(metrics.model_dump()),
                               "report": str(folder / "report.html")}, indent=2, default=str))
        return
    console = table_console()
    console.print(yaml.safe_dump(config.get("request", {}), sort_keys=False).rstrip())
    console.print(_metrics_table(metrics, run_id))
    typer.echo(f"report: {folder / 'report.html'}")


@backtest_app.command("report")
def report_command(
    run_id: Annotated[str, typer.Argument(help="run id (see `cde backtest ls`)")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write here instead of the run's report.html")] = None,
    self_contained: Annotated[bool, typer.Option("--self-contained", help="inline plotly.js: one file that "
                                                 "opens anywhere (for mailing)")] = False,
    lake_root: LakeOption = None,
) -> None:
    """Re-draw a stored run's tear sheet (e.g. as one self-contained file to mail)."""
    from cde_backtest.report import build_report
    from cde_backtest.report.stored import stored_report_inputs
    from cde_backtest.run_store import RunStore
    from cde_core.atomic import atomic_write_bytes
    from cde_core.visual.plotly_asset import PlotlyScript

    lake = _lake(lake_root)
    store = RunStore(lake)
    stored = store.load(run_id)
    target = out or stored.report
    if self_contained:
        plotly = PlotlyScript.inline()
    elif out is None:
        plotly = store.plotly_script()
    else:
        plotly = PlotlyScript.beside(target, lake.root)
    atomic_write_bytes(target, build_report(stored_report_inputs(stored), plotly).encode())
    typer.echo(f"report: {target}")


@backtest_app.command("delete")
def delete_command(run_id: Annotated[str, typer.Argument(help="run id")], lake_root: LakeOption = None) -> None:
    """Delete a stored run folder."""
    from cde_backtest.run_store import RunStore

    RunStore(_lake(lake_root)).delete(run_id)
    typer.echo(f"deleted {run_id}")


@backtest_app.command("sweep")
def sweep_command(
    grid: Annotated[Path, typer.Option("--grid", help="grid.yaml: `base` request and `grid` of dotted key → values")],
    lake_root: LakeOption = None,
) -> None:
    """Run one backtest per grid combination through the executor; print a summary, write a heat map."""
    from pydantic import ValidationError
    from rich.table import Table

    from cde_backtest.report.labels import format_metric as _fmt
    from cde_backtest.request_file import read_yaml
    from cde_backtest.sweep import SweepRequest, run_sweep
    from cde_core.console import progress_bar, table_console
    from cde_core.errors import ConfigError, first_validation_problem

    try:
        request = SweepRequest.model_validate(read_yaml(grid))
    except ValidationError as exc:
        key, message = first_validation_problem(exc, root="(file)")
        raise ConfigError(f"bad sweep grid '{key}': {message}", where=str(grid),
                          hint="keys: " + ", ".join(SweepRequest.model_fields)) from None
    with progress_bar("sweep") as progress:
        result = run_sweep(request, _lake(lake_root), progress=progress)
    table = Table(title=f"sweep {result.sweep_id}")
    keys = list(request.grid)
    for column in (*keys, "run id", "total return", "sharpe", "max drawdown"):
        table.add_column(column)
    for row in result.rows:
        table.add_row(*[str(row.values[k]) for k in keys], row.run_id or "— (no position)",
                      _fmt("total_return", row.total_return), _fmt("sharpe", row.sharpe),
                      _fmt("max_drawdown", row.max_drawdown))  # NaN: —
    table_console().print(table)
    for row in result.rows:
        if row.note:
            values = ", ".join(f"{k}={row.values[k]}" for k in keys)
            typer.echo(f"notice: {values}: {row.note}", err=True)
    typer.echo(f"heat map: {result.heatmap}")


def _list_components(kind: str, as_json: bool) -> None:
    from rich.table import Table

    from cde_core.console import table_console
    from cde_core.plugins import get_plugins

    entries = get_plugins().registry(kind).entries()
    if as_json:
        typer.echo(json.dumps([{"name": e.name, "summary": e.summary, "distribution": e.distribution,
                                "engine": getattr(e.obj, "engine", None),
                                "params_schema": e.obj.Params.model_json_schema()} for e in entries], indent=2))
        return
    table = Table(title=kind)
    for column in ("name", "summary", "from"):
        table.add_column(column)
    for e in entries:
        table.add_row(e.name, e.summary, e.distribution)
    table_console().print(table)


JsonOption = Annotated[bool, typer.Option("--json", help="print JSON with parameter schemas")]


@backtest_app.command("strategies")
def strategies_command(as_json: JsonOption = False) -> None:
    """List registered strategies."""
    _list_components("strategies", as_json)


@backtest_app.command("signals")
def signals_command(as_json: JsonOption = False) -> None:
    """List registered signal generators."""
    _list_components("signals", as_json)


@backtest_app.command("engines")
def engines_command(as_json: JsonOption = False) -> None:
    """List registered backtest engines."""
    _list_components("engines", as_json)
