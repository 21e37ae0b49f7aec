"""``cde import trades|bars``: thin shells over :mod:`cde_exchanges.importing.trade_import` and
:mod:`cde_exchanges.importing.bar_import`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from cde_exchanges.importing.import_timestamps import TimeOptions

import_app = typer.Typer(help="import your own trades or OHLCV bars (CSV, CSV.gz, Parquet) into the lake",
                         no_args_is_help=True)

FilesArg = Annotated[list[Path], typer.Argument(help="CSV, CSV.gz or Parquet files, in time order")]
ExchangeOpt = Annotated[str, typer.Option(help="exchange partition to write, e.g. cme or myvendor")]
MarketOpt = Annotated[str, typer.Option(help="market partition, e.g. spot or futures")]
SymbolOpt = Annotated[str, typer.Option(help="symbol partition, e.g. ES or BTCUSDT")]
ColumnsOpt = Annotated[str | None, typer.Option(
    help="role=column pairs, comma-separated, for columns not named as the role, e.g. "
         "'ts=Date and Time,price=Price,qty=Volume'")]
UnitOpt = Annotated[str | None, typer.Option("--ts-unit", help="epoch unit of numeric times: s, ms, us or ns "
                                             "(required for numeric times: never guessed)")]
FormatOpt = Annotated[str | None, typer.Option("--ts-format", help="strftime layout of date-time text that is "
                                               "not ISO 8601, e.g. '%d.%m.%Y %H:%M:%S.%f'")]
ZoneOpt = Annotated[str, typer.Option("--timezone", help="zone of times written without one (IANA name)")]


def _time_options(ts_unit: str | None, ts_format: str | None, timezone: str) -> TimeOptions:
    from cde_core.errors import ConfigError

    if ts_unit is not None and ts_unit not in ("s", "ms", "us", "ns"):
        raise ConfigError(f"--ts-unit '{ts_unit}' is not s, ms, us or ns", where="--ts-unit")
    from cde_exchanges.importing.import_timestamps import TimeOptions
    return TimeOptions(unit=ts_unit, format=ts_format, timezone=timezone)


@import_app.command("trades")
def import_trades_command(
    files: FilesArg,
    exchange: ExchangeOpt,
    market: MarketOpt,
    symbol: SymbolOpt,
    columns: ColumnsOpt = None,
    ts_unit: UnitOpt = None,
    ts_format: FormatOpt = None,
    timezone: ZoneOpt = "UTC",
    first_trade_id: Annotated[int, typer.Option(help="first generated trade id (files without ids)", min=0)] = 1,
    force: Annotated[bool, typer.Option("--force", help="replace days already in the lake")] = False,
    new_name: Annotated[bool, typer.Option("--new-name", help="the exchange, market or symbol is new on purpose "
                                           "although close to one in the lake (else refused as a typo)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Import trades (roles ts, price, qty; optional quote_qty, trade_id, is_buyer_maker or side) into the
    trades lake, one verified partition per UTC day, all or nothing. Without is_buyer_maker or side the
    tick rule decides the side; without trade_id, ids are generated. Both are recorded in the provenance."""
    from cde_core.config import get_config
    from cde_core.console import progress_bar
    from cde_core.lake import Lake
    from cde_exchanges.importing.import_columns import parse_column_map
    from cde_exchanges.importing.trade_import import TradeImportRequest, import_trades

    request = TradeImportRequest(files=files, exchange=exchange, market=market, symbol=symbol,
                                 columns=parse_column_map(columns),
                                 time=_time_options(ts_unit, ts_format, timezone),
                                 force=force, new_name=new_name, first_trade_id=first_trade_id)
    with progress_bar("importing trades", enabled=None if not as_json else False) as progress:
        report = import_trades(request, Lake(get_config().data_root), progress=progress)
    if as_json:
        typer.echo(report.model_dump_json(indent=1))
        return
    first, last = report.days[0].date, report.days[-1].date
    days = f"{len(report.days)} day" + ("s" if len(report.days) != 1 else "")
    typer.echo(f"{report.symbol}: {report.rows:,} trades in {days} ({first} … {last}) "
               f"written to trades/exchange={report.exchange}/market={report.market}")
    typer.echo(f"is_buyer_maker: {report.is_buyer_maker}")
    typer.echo(f"trade_id: {report.trade_id}")
    for day in report.days:
        found = {k: v for k, v in day.validation.items()
                 if k in ("gaps", "duplicates", "non_monotonic_ids", "zero_qty") and v}
        if found:
            typer.echo(f"validation: {day.date}: " + ", ".join(f"{k} {v}" for k, v in found.items()))


@import_app.command("bars")
def import_bars_command(
    files: FilesArg,
    exchange: ExchangeOpt,
    market: MarketOpt,
    symbol: SymbolOpt,
    interval: Annotated[str | None, typer.Option(help="bar interval, e.g. 1m, 1h, 1d (default: the smallest "
                                                      "step between bars)")] = None,
    name: Annotated[str | None, typer.Option(help="spec id suffix: the bars go to spec imported-<name> "
                                                  "(default imported-<interval>)")] = None,
    columns: ColumnsOpt = None,
    ts_unit: UnitOpt = None,
    ts_format: FormatOpt = None,
    timezone: ZoneOpt = "UTC",
    force: Annotated[bool, typer.Option("--force", help="replace this symbol's bars of that spec")] = False,
    new_name: Annotated[bool, typer.Option("--new-name", help="the exchange, market or symbol is new on purpose "
                                           "although close to one under the spec (else refused as a typo)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Import OHLCV bars (roles ts = bar open time, open, high, low, close, volume; optional quote_volume,
    vwap, n_trades, buy_volume, buy_quote_volume) into the bars lake under spec imported-<interval>, usable
    by `cde features compute --bars imported-<interval>`. Derived columns are listed and recorded."""
    from cde_core.config import get_config
    from cde_core.console import progress_bar
    from cde_core.lake import Lake
    from cde_exchanges.importing.bar_import import BarImportRequest, import_bars
    from cde_exchanges.importing.import_columns import parse_column_map

    request = BarImportRequest(files=files, exchange=exchange, market=market, symbol=symbol, interval=interval,
                               name=name, columns=parse_column_map(columns),
                               time=_time_options(ts_unit, ts_format, timezone), force=force, new_name=new_name)
    with progress_bar("importing bars", enabled=None if not as_json else False) as progress:
        report = import_bars(request, Lake(get_config().data_root), progress=progress)
    if as_json:
        typer.echo(report.model_dump_json(indent=1))
        return
    typer.echo(f"{report.symbol}: {report.bars:,} {report.interval} bars ({report.first:%Y-%m-%d %H:%M} … "
               f"{report.last:%Y-%m-%d %H:%M} UTC) written to bars/spec={report.spec}")
    for column, how in report.derived.items():
        typer.echo(f"derived: {column}: {how}")
    typer.echo(f"next: cde features compute --bars {report.spec} --exchange {report.exchange} "
               f"--market {report.market} --symbols {report.symbol}")


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")

