"""`cde universe top|pit`: the asset pool on the command line (thin: parse, call the service, print).

Imported on every ``cde`` invocation, so the services (pandas, pyarrow, ccxt) load inside commands.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import pandas as pd

universe_app = typer.Typer(name="universe", no_args_is_help=True,
                           help="Asset pool: top-N pairs by quote volume, live or point-in-time from the lake.")


class RebalanceChoice(StrEnum):
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"


@universe_app.command("top")
def top_command(
    exchange: Annotated[str, typer.Option(help="binance or okx")] = "binance",
    market: Annotated[str, typer.Option(help="market (the live pool serves spot)")] = "spot",
    quote: Annotated[str, typer.Option(help="quote asset")] = "USDT",
    n: Annotated[int, typer.Option("--n", "-n", min=1, help="how many pairs")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    show_excluded: Annotated[bool, typer.Option("--show-excluded", help="also list excluded pairs")] = False,
) -> None:
    """Today's top-N pairs by 24h quote volume (live, via ccxt).

    Stablecoin and fiat bases, leveraged tokens and inactive pairs are excluded (docs/universe.md).
    """
    from cde_exchanges.universe.live import LiveTopRequest, live_top_pairs

    result = live_top_pairs(LiveTopRequest(exchange=exchange, market=market, quote=quote, n=n))
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    from rich.table import Table

    from cde_core.console import table_console

    table = Table(title=f"{result.exchange} {result.market} top {len(result.pairs)} by 24h quote volume "
                        f"({result.quote})")
    for column in ("rank", "symbol", "base", "quote volume"):
        table.add_column(column, justify="right" if column in ("rank", "quote volume") else "left")
    for pair in result.pairs:
        table.add_row(str(pair.rank), pair.symbol, pair.base, f"{pair.quote_volume:,.0f}")
    console = table_console()
    console.print(table)
    if show_excluded:
        for item in result.excluded:
            console.print(f"excluded {item.symbol}: {item.reason}")
    else:
        console.print(f"{len(result.excluded)} pair(s) excluded (--show-excluded lists them)")


@universe_app.command("pit")
def pit_command(
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="first as-of date, YYYY-MM-DD")],
    end: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="last as-of date, YYYY-MM-DD")],
    exchange: Annotated[str, typer.Option(help="exchange in the lake")] = "binance",
    market: Annotated[str, typer.Option(help="market in the lake")] = "spot",
    n: Annotated[int, typer.Option("--n", "-n", min=1, help="universe size")] = 20,
    lookback_days: Annotated[int, typer.Option(min=1, help="trailing quote-volume window, days")] = 7,
    rebalance: Annotated[RebalanceChoice, typer.Option(help="as-of schedule")] = RebalanceChoice.daily,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON records")] = False,
    out: Annotated[Path | None, typer.Option(help="also write the universe to this file: .parquet (or .pq), "
                                             ".csv or .json, by its suffix", dir_okay=False)] = None,
    # a str, not a Path: pathlib would fold s3://bucket/lake into the local folder s3:/bucket/lake
    data_root: Annotated[str | None, typer.Option(metavar="<path|url>", help="lake root, a folder or "
                                                  "s3://bucket/prefix (default: config data_root)")] = None,
) -> None:
    """Point-in-time universe from the lake: top-N by trailing quote volume as of each date.

    Each date uses only lake days before it: no look-ahead, no survivorship bias.
    """
    from cde_core.config import get_config
    from cde_core.lake import Lake
    from cde_exchanges.universe.point_in_time import (
        WINDOW_NOTICES,
        PointInTimeRequest,
        empty_universe_error,
        point_in_time_universe,
    )

    request = PointInTimeRequest(exchange=exchange, market=market, n=n, start=start.date(), end=end.date(),
                                 lookback_days=lookback_days, rebalance=rebalance.value)
    if out is not None:
        _out_format(out)  # refuse an unknown suffix before the lake is read
    lake = Lake(data_root or get_config().data_root)
    universe = point_in_time_universe(lake, request.exchange, request.market, request.n, request.start,
                                      request.end, request.lookback_days, request.rebalance)
    if universe.empty:
        raise empty_universe_error(lake, request)
    for notice in universe.attrs.get(WINDOW_NOTICES, []):  # stderr: --json stays one JSON document
        typer.echo(f"warning: {notice}", err=True)
    if out is not None:
        _write(universe, out)
    if as_json:
        typer.echo(_json_records(universe))
        return
    from rich.console import Console
    from rich.table import Table

    from cde_core.console import table_console

    table = Table(title=f"{exchange} {market} point-in-time top {n} (trailing {lookback_days} d quote volume)")
    table.add_column("as of")
    table.add_column("members, largest first", overflow="fold")
    for day, group in universe.groupby("date", sort=True):
        table.add_row(str(day), " ".join(group.sort_values("rank")["symbol"]))
    table_console().print(table)
    if out is not None:
        Console(stderr=True).print(f"wrote {len(universe)} rows to {out}")


#: ``--out`` suffix → format; any other suffix is refused (a Parquet file named pool.csv reads as garbage)
OUT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".json": "json"}


def _out_format(path: Path) -> str:
    from cde_core.errors import ConfigError

    found = OUT_FORMATS.get(path.suffix.lower())
    if found is None:
        raise ConfigError(f"--out {path}: the suffix '{path.suffix}' names no format the universe is written in",
                          where="universe pit", hint="end the file name in .parquet (or .pq), .csv or .json")
    return found


def _json_records(universe: pd.DataFrame) -> str:
    """One record per (date, symbol), dates as YYYY-MM-DD: what ``--json`` prints and ``--out x.json`` holds."""
    records = universe.assign(date=universe["date"].map(lambda d: d.isoformat()))
    return json.dumps(records.to_dict(orient="records"), indent=1)


def _write(universe: pd.DataFrame, path: Path) -> None:
    """Write the universe in the format its suffix names, atomically (no half-written file)."""
    import pyarrow as pa

    from cde_core.atomic import atomic_write_bytes
    from cde_core.parquet_encoding import write_parquet

    kind = _out_format(path)
    if kind == "parquet":
        write_parquet(path, pa.Table.from_pandas(universe, preserve_index=False))
    elif kind == "csv":
        atomic_write_bytes(path, universe.to_csv(index=False).encode())
    else:
        atomic_write_bytes(path, (_json_records(universe) + "\n").encode())


def register(app: typer.Typer) -> None:
    """Add the ``universe`` group to the root ``cde`` application."""
    app.add_typer(universe_app, name="universe")
