"""``cde features list | compute | analyze``."""

from __future__ import annotations

import json
import math
import numbers
from datetime import datetime
from typing import Annotated

import typer

from cde_core.errors import DataError

features_app = typer.Typer(help="Factor library: list factors, compute feature sets, analyse factors.",
                           no_args_is_help=True)


def _split(values: list[str] | None) -> list[str]:
    return [part.strip() for v in values or [] for part in v.split(",") if part.strip()]


def _day(value: str | None, option: str = "--start/--end") -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise DataError(f"'{value}' is not a date", where=option, hint="use YYYY-MM-DD") from None


def _horizons(raw: str) -> list[int]:
    try:
        horizons = [int(h) for h in _split([raw])]
    except ValueError:
        horizons = []
    if not horizons or min(horizons) < 1:
        raise DataError(f"bad --horizons '{raw}'", where="--horizons",
                        hint="comma-separated whole numbers of bars, each ≥ 1, e.g. 1,24,168")
    return horizons


Symbols = Annotated[list[str] | None, typer.Option("--symbols", "-s", help="symbols (repeat or comma-separate)")]
Start = Annotated[str | None, typer.Option("--start", help="first day YYYY-MM-DD (UTC)")]
End = Annotated[str | None, typer.Option("--end", help="last day YYYY-MM-DD (UTC), inclusive")]
Exchange = Annotated[str, typer.Option("--exchange", help="exchange partition")]
Market = Annotated[str, typer.Option("--market", help="market partition")]


@features_app.command("list")
def list_command(
    group: Annotated[str | None, typer.Option("--group", "-g", help="only this group")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    columns: Annotated[bool, typer.Option("--columns", help="list the default set's columns instead")] = False,
) -> None:
    """List registered factors: name, group, inputs, lookback, summary and providing plugin."""
    from cde_core.plugins import get_plugins

    if columns:
        from cde_features.calculator import UnifiedFeatureCalculator

        cols = UnifiedFeatureCalculator().columns
        typer.echo(json.dumps(cols, indent=2) if as_json else "\n".join(cols))
        return
    groups = {str(getattr(entry.obj, "group", "")) for entry in get_plugins().factors}
    if group is not None and group not in groups:
        from cde_core.errors import NotFoundError
        from cde_core.suggest import did_you_mean

        raise NotFoundError(f"no factor group '{group}'", where="--group",
                            hint=did_you_mean(group, groups, what="groups"))
    rows = []
    for entry in get_plugins().factors:
        factor = entry.obj
        if group and getattr(factor, "group", "") != group:
            continue
        try:
            lookback = int(factor.lookback(factor.Params()))
            cols = factor.columns(factor.Params())
        except Exception:  # a factor whose params have no defaults
            lookback, cols = -1, []
        rows.append({"name": entry.name, "group": getattr(factor, "group", ""),
                     "inputs": list(getattr(factor, "inputs", ())), "lookback": lookback,
                     "columns": cols, "cross_sectional": bool(getattr(factor, "cross_sectional", False)),
                     "summary": entry.summary, "plugin": entry.plugin, "distribution": entry.distribution})
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    from cde_core.console import table_console

    table = Table(title=f"cde factors ({len(rows)})")
    for name in ("name", "group", "inputs", "lookback", "summary", "plugin"):
        table.add_column(name, overflow="fold")
    for r in rows:
        table.add_row(r["name"], r["group"], ",".join(r["inputs"]), str(r["lookback"]), r["summary"],
                      f"{r['plugin']} ({r['distribution']})")
    table_console().print(table)


@features_app.command("compute")
def compute_command(
    bars: Annotated[str, typer.Option("--bars", help="bars spec id in the lake")],
    feature_set: Annotated[str, typer.Option("--set", help="feature set name")] = "default",
    set_file: Annotated[str | None, typer.Option("--set-file", metavar="PATH|URL",
                                                 help="feature-set YAML file (name, factors with params), a path "
                                                      "or s3://bucket/key; replaces --set")] = None,
    factors: Annotated[list[str] | None, typer.Option("--factors", "-f", help="names, groups or globs")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="FACTOR.PARAM=VALUE, e.g. "
                                                    "rsi.window=21 (repeatable)")] = None,
    symbols: Symbols = None, start: Start = None, end: End = None,
    exchange: Exchange = "binance", market: Market = "spot",
    out_spec: Annotated[str | None, typer.Option("--out-spec", help="features spec id to write")] = None,
) -> None:
    """Compute a feature set from the bars lake and write it to the features lake."""
    from cde_core.console import progress_bar
    from cde_core.lake_location import lake_location
    from cde_features.feature_set_file import load_feature_set_file, parse_param_flags
    from cde_features.service import ComputeRequest, compute_to_lake

    chosen = load_feature_set_file(lake_location(set_file)) if set_file is not None else feature_set
    request = ComputeRequest(bars=bars, feature_set=chosen, factors=_split(factors),
                             params=parse_param_flags(param or []), symbols=_split(symbols),
                             start=_day(start, "--start"), end=_day(end, "--end"), exchange=exchange, market=market,
                             out_spec=out_spec)
    with progress_bar("features") as progress:
        result = compute_to_lake(request, progress=progress)
    typer.echo(f"wrote {result.rows} rows × {len(result.columns)} columns for {len(result.symbols)} symbol(s) "
               f"to features/spec={result.spec}")
    for notice in result.notices:
        typer.echo(f"notice: {notice}")


@features_app.command("analyze")
def analyze_command(
    bars: Annotated[str, typer.Option("--bars", help="bars spec id (forward returns come from its closes)")],
    features: Annotated[str | None, typer.Option("--features", help="features spec to read (default: "
                                                 "compute from the bars)")] = None,
    columns: Annotated[list[str] | None, typer.Option("--columns", "-c", help="columns or globs")] = None,
    horizons: Annotated[str, typer.Option("--horizons", help="forward horizons in bars")] = "1,24,168",
    quantiles: Annotated[int, typer.Option("--quantiles", "-q", help="number of quantiles")] = 5,
    symbols: Symbols = None, start: Start = None, end: End = None,
    exchange: Exchange = "binance", market: Market = "spot",
    report: Annotated[str, typer.Option("--report", metavar="PATH|URL",
                                        help="HTML report path, or s3://bucket/key.html (e.g. inside an "
                                             "s3:// lake)")] = "factor_report.html",
    self_contained: Annotated[bool, typer.Option("--self-contained", help="inline plotly.js (one file to "
                                                 "mail, ~4.6 MB) instead of a shared plotly-<version>.min.js "
                                                 "beside the report or in the lake's assets/")] = False,
) -> None:
    """IC / rank IC, IC decay, quantile returns, cumulative quantile spreads, turnover and rank
    autocorrelation for one or several factors; prints a table and writes an HTML report (plotly)."""
    from rich.table import Table

    from cde_core.console import progress_bar, table_console
    from cde_core.lake_location import lake_location
    from cde_features.service import AnalyzeRequest, analyze_request

    request = AnalyzeRequest(bars=bars, features=features, columns=_split(columns),
                             horizons=_horizons(horizons), quantiles=quantiles,
                             symbols=_split(symbols), start=_day(start, "--start"), end=_day(end, "--end"),
                             exchange=exchange, market=market)
    with progress_bar("analyze") as progress:
        result = analyze_request(request, report_path=lake_location(report), progress=progress,
                                 self_contained=self_contained)
    frame = result.table()
    table = Table(title="factor analysis")
    for name in frame.columns:
        table.add_column(str(name), justify="left" if name == "column" else "right")
    for row in frame.itertuples(index=False):
        table.add_row(*[_cell(v) for v in row])
    table_console().print(table)
    for note in result.notes():
        typer.echo(f"note: {note}")
    typer.echo(f"report: {report}")


def _cell(value: object) -> str:
    """A table cell: undefined (NaN) is "—" as in the HTML report, never "nan"."""
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return str(value)
    number = float(value)  # type: ignore[arg-type]
    return "—" if math.isnan(number) else f"{number + 0.0:.4f}"
