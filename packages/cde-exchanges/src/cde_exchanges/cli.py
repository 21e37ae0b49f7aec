"""``cde download``, ``cde lake ls|verify`` and ``cde exchanges make-archive``: thin shells over the
services (the REST router calls the same functions with the same models)."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from cde_core.errors import DataError


def _symbols(raw: str) -> list[str]:
    symbols = [s.strip() for s in raw.split(",") if s.strip()]
    if not symbols:
        raise DataError("no symbols given", where="--symbols", hint="e.g. --symbols BTCUSDT,ETHUSDT")
    return symbols


def _params(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DataError(f"--params is not JSON: {exc.msg}", where="--params",
                        hint='e.g. --params \'{"ct_val": {"BTC-USDT-SWAP": 0.01}}\'') from None
    if not isinstance(value, dict):
        raise DataError("--params must be a JSON object", where="--params")
    return value


def download_command(
    exchange: Annotated[str, typer.Option(help="binance or okx")],
    market: Annotated[str, typer.Option(help="binance: spot, um, cm; okx: spot, swap")],
    symbols: Annotated[str, typer.Option(help="comma-separated exchange symbols, e.g. BTCUSDT,ETHUSDT")],
    start: Annotated[str, typer.Option(help="first day (UTC), YYYY-MM-DD")],
    end: Annotated[str, typer.Option(help="last day (UTC), inclusive, YYYY-MM-DD")],
    kind: Annotated[str, typer.Option(help="trades, aggTrades, klines or fundingRate (binance um/cm, "
                                           "monthly only)")] = "trades",
    interval: Annotated[str | None, typer.Option(help="kline interval (klines): 1s (spot), 1m … 1d")] = None,
    params: Annotated[str | None, typer.Option(help="adapter parameters as JSON")] = None,
    force: Annotated[bool, typer.Option("--force", help="fetch the files again (not from the cache) and rewrite "
                                                        "days already in the lake (never with fewer rows)")] = False,
    recheck_missing: Annotated[bool, typer.Option("--recheck-missing",
                                                  help="ask again for files recently found missing")] = False,
    keep_archives: Annotated[bool, typer.Option("--keep-archives", help="keep the verified zips")] = False,
    allow_unverified: Annotated[bool, typer.Option(
        "--allow-unverified", help="accept zips published without a .CHECKSUM (zip CRC-32 only; recorded in "
                                   "the provenance)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Download public tick archives into the lake (verified, resumable)."""
    from cde_core.config import get_config
    from cde_core.plugins import get_plugins
    from cde_exchanges.download.models import DownloadRequest
    from cde_exchanges.download.progress import RichTransferMonitor
    from cde_exchanges.download.service import run_download

    request = DownloadRequest(exchange=exchange, market=market, kind=kind,  # type: ignore[arg-type]
                              interval=interval, symbols=_symbols(symbols), start=_day(start, "--start"),
                              end=_day(end, "--end"),
                              params=_params(params), force=force, recheck_missing=recheck_missing,
                              keep_archives=keep_archives, allow_unverified=allow_unverified)
    adapter = get_plugins().exchanges.get(exchange)
    with RichTransferMonitor(enabled=sys.stderr.isatty() and not as_json) as monitor:
        report = run_download(request, adapter=adapter, config=get_config(), monitor=monitor,
                              notify=lambda line: typer.echo(line, err=True))
    summary = report.summary()
    if as_json:
        typer.echo(json.dumps({"summary": summary, "report": report.model_dump(mode="json")}, indent=2))
    else:
        files, days = summary["files"], summary["days"]
        typer.echo(f"files: {files['downloaded']} downloaded, {files['cached']} cached, {files['missing']} "
                   f"missing, {files['failed']} failed ({summary['bytes']:,} bytes)")
        incomplete = f", {days['incomplete']} incomplete" if days["incomplete"] else ""
        typer.echo(f"{report.partition_unit}: {days['written']} downloaded, {days['skipped']} skipped, "
                   f"{days['missing']} missing{incomplete}, {days['failed']} failed "
                   f"({summary['rows']:,} {report.row_unit})")
        for line in summary["issues"]:
            typer.echo(f"validation: {line}")
        for line in summary["incomplete"]:
            typer.echo(f"incomplete: {line}", err=True)
        for line in summary["errors"]:
            typer.echo(f"error: {line}", err=True)
    if not report.ok:
        raise typer.Exit(1)


def _day(raw: str, option: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise DataError(f"'{raw}' is not a date", where=option, hint="use YYYY-MM-DD") from None


lake_app = typer.Typer(help="inspect and verify the lake's downloaded trees", no_args_is_help=True)


@lake_app.command("ls")
def lake_ls(
    exchange: Annotated[str | None, typer.Option(help="only this exchange")] = None,
    market: Annotated[str | None, typer.Option(help="only this market")] = None,
    symbol: Annotated[str | None, typer.Option(help="only this symbol")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Inventory of every downloaded tree (trades, aggtrades, klines, funding): per symbol date range, rows,
    missing days (months for funding), id gaps."""
    from rich.table import Table

    from cde_core.config import get_config
    from cde_core.console import table_console
    from cde_core.lake import Lake
    from cde_exchanges.lake.filters import nothing_found
    from cde_exchanges.lake.inventory import inventory

    lake = Lake(get_config().data_root)
    items = inventory(lake, exchange=exchange, market=market, symbol=symbol)
    if not items:
        raise nothing_found(lake, exchange=exchange, market=market, symbol=symbol)
    if as_json:
        typer.echo(json.dumps([i.model_dump(mode="json") for i in items], indent=2))
        return
    table = Table(title=f"lake ({get_config().data_root})")
    for column in ("tree", "exchange", "market", "symbol", "from", "to", "days", "rows", "missing days", "id gaps"):
        table.add_column(column)
    for i in items:
        tree = f"{i.tree}/{i.interval}" if i.interval else i.tree
        table.add_row(tree, i.exchange, i.market, i.symbol, str(i.first_date), str(i.last_date), str(i.days),
                      f"{i.rows:,}", str(len(i.missing_days)), str(i.id_gaps + i.boundary_gaps))
    table_console().print(table)
    issues = [f"{i.tree} {i.exchange}/{i.market} {i.symbol} {issue}" for i in items for issue in i.issues]
    if issues:  # a day counted above whose file cannot be read (or has no provenance) is not silently data
        typer.echo(f"{len(issues)} partition(s) with problems (details: `cde lake verify`):", err=True)
        for line in issues:
            typer.echo(f"  {line}", err=True)


@lake_app.command("verify")
def lake_verify(
    exchange: Annotated[str | None, typer.Option(help="only this exchange")] = None,
    market: Annotated[str | None, typer.Option(help="only this market")] = None,
    symbol: Annotated[str | None, typer.Option(help="only this symbol")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Re-check every downloaded partition against its provenance (schema, rows, ids, period, folder) and
    every row against the download's value rules."""
    from cde_core.config import get_config
    from cde_core.lake import Lake
    from cde_exchanges.lake.filters import nothing_found
    from cde_exchanges.lake.inventory import verify

    lake = Lake(get_config().data_root)
    checks = verify(lake, exchange=exchange, market=market, symbol=symbol)
    if not checks:
        raise nothing_found(lake, exchange=exchange, market=market, symbol=symbol)
    bad = [c for c in checks if not c.ok]
    if as_json:
        typer.echo(json.dumps({"checked": len(checks), "bad": [c.model_dump() for c in bad]}, indent=2))
    else:
        for c in bad:
            typer.echo(f"BAD {c.path}: {c.problem}")
        typer.echo(f"{len(checks)} partitions checked, {len(bad)} bad")
    if bad:
        raise typer.Exit(1)


@lake_app.command("crosscheck")
def lake_crosscheck(
    exchange: Annotated[str, typer.Option(help="exchange, e.g. binance")],
    market: Annotated[str, typer.Option(help="market, e.g. spot, um, cm")],
    interval: Annotated[str, typer.Option(help="kline interval in the klines lake, e.g. 1m or 1h")],
    symbols: Annotated[str | None, typer.Option(help="comma-separated symbols (default: all with klines)")] = None,
    start: Annotated[str | None, typer.Option(help="first day (UTC), YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option(help="last day (UTC), inclusive, YYYY-MM-DD")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the full report as JSON")] = False,
) -> None:
    """Recompute candles from the trades lake and compare them with the klines lake, interval by interval
    (count, OHLC, volumes, taker-buy volumes); exit 1 when a symbol-day differs or one side is absent."""
    from cde_core.config import get_config
    from cde_core.lake import Lake
    from cde_exchanges.lake.crosscheck import CrosscheckRequest, crosscheck, describe
    from cde_exchanges.lake.filters import check_filters

    request = CrosscheckRequest(exchange=exchange, market=market, interval=interval,
                                symbols=_symbols(symbols) if symbols else [],
                                start=_day(start, "--start") if start else None,
                                end=_day(end, "--end") if end else None)
    lake = Lake(get_config().data_root)
    check_filters(lake, exchange=exchange, market=market, symbol=request.symbols)
    report = crosscheck(lake, request)
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        for day in report.days:
            if day.status != "ok":
                typer.echo(describe(day))
        agree = sum(1 for d in report.days if d.status == "ok")
        typer.echo(f"{len(report.days)} symbol-days checked, {agree} agree with the {interval} klines")
    if not report.ok:
        raise typer.Exit(1)


exchanges_app = typer.Typer(help="exchange archive tools", no_args_is_help=True)


@exchanges_app.command("make-archive")
def make_archive_command(
    root: Annotated[Path, typer.Option(help="directory to write the archive tree into")],
    symbols: Annotated[str, typer.Option(help="comma-separated exchange symbols")],
    start: Annotated[str, typer.Option(help="first day, YYYY-MM-DD")],
    end: Annotated[str, typer.Option(help="last day, YYYY-MM-DD")],
    exchange: Annotated[str, typer.Option(help="binance or okx")] = "binance",
    market: Annotated[str, typer.Option(help="market")] = "spot",
    kind: Annotated[str, typer.Option(help="trades, aggTrades, klines or fundingRate (binance)")] = "trades",
    interval: Annotated[str | None, typer.Option(help="kline interval (klines), e.g. 1m")] = None,
    layout: Annotated[str, typer.Option(help="daily, monthly (whole months monthly, the rest daily) or both")]
    = "daily",
    trades_per_day: Annotated[int, typer.Option(help="mean trades per symbol-day")] = 20_000,
    seed: Annotated[int, typer.Option(help="random seed")] = 7,
) -> None:
    """Write a synthetic archive (exact formats, zip + CHECKSUM) for the local archive server; files
    already complete are kept, so an interrupted run resumes."""
    from cde_core.console import progress_bar
    from cde_core.errors import ConfigError
    from cde_core.lake import safe_value
    from cde_core.plugins import get_plugins
    from cde_exchanges.fakes.archive_maker import make_archive

    if layout not in ("daily", "monthly", "both"):
        raise ConfigError(f"unknown --layout '{layout}'", hint="use daily, monthly or both")
    if interval is not None and kind != "klines":
        raise ConfigError(f"--interval applies to --kind klines only, not {kind}", where="--interval")
    if kind == "klines":
        from cde_exchanges.formats.kline_intervals import interval_us

        interval_us(interval, market)
    for symbol in _symbols(symbols):
        safe_value(symbol, what="symbol")
    adapter = get_plugins().exchanges.get(exchange)
    with progress_bar("generating archive") as progress:
        report = make_archive(root, adapter, market, kind, _symbols(symbols), _day(start, "--start"),
                              _day(end, "--end"), layout=layout,  # type: ignore[arg-type]
                              trades_per_day=trades_per_day, seed=seed, progress=progress, interval=interval)
    typer.echo(f"archive under {root}: {report.written} files written, {report.kept} already complete")


@exchanges_app.command("serve-archive")
def serve_archive_command(
    root: Annotated[Path, typer.Option(help="archive directory to serve", exists=True, file_okay=False)],
    port: Annotated[int, typer.Option(help="port on 127.0.0.1 (0 = any free port)", min=0, max=65535)] = 0,
    fault: Annotated[list[str] | None, typer.Option(
        help="inject a fault, KIND:GLOB[:TIMES] (repeatable); KIND: 404, 429, 500, 503, truncate, bad_checksum, "
             "slow, trickle, garbage (a listing answered with a body that is not one; GLOB [?]prefix=*)")] = None,
) -> None:
    """Serve an archive directory on 127.0.0.1 (point download.*_archive_url at the printed URL)."""
    from cde_exchanges.fakes.archive_server import ArchiveServer, parse_fault

    faults = [parse_fault(spec) for spec in fault or []]
    server = ArchiveServer(root, port=port)
    for rule, pattern in faults:
        server.add_fault(rule, pattern)
    typer.echo(server.url, err=False)
    sys.stdout.flush()
    server.serve_forever()


def register(app: typer.Typer) -> None:
    app.command("download")(download_command)
    app.add_typer(lake_app, name="lake")
    app.add_typer(exchanges_app, name="exchanges")
