"""The `cde demo` command: flags, the data folder's lifecycle, and the closing summary."""

from __future__ import annotations

import shutil
from datetime import date
from typing import Annotated

import typer
from rich.console import Console

from cde_core.atomic import atomic_write_bytes
from cde_core.errors import ConfigError, first_validation_problem
from cde_core.lake_location import LakePath
from cde_core.object_store import ObjectPath
from cde_server.demo.settings import DemoSettings, default_demo_root

MARKER = ".cde-demo"


def prepare_root(settings: DemoSettings, *, clean: bool) -> None:
    """Create the demo folder (marked as the demo's own), or empty it for --clean; a folder — or a
    bucket prefix — that is not empty and not the demo's is never deleted."""
    root = settings.data_root
    marked = (root / MARKER).exists()
    if _holds_anything(root) and not marked:
        raise ConfigError("the demo data root is not empty and was not created by `cde demo`", where=str(root),
                          hint="choose another --data-root")
    if clean:
        if isinstance(root, ObjectPath):
            root.remove_tree()
            shutil.rmtree(settings.local_root, ignore_errors=True)
        elif root.exists():
            shutil.rmtree(root)
    settings.work.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(root / MARKER, b"created by `cde demo`; `cde demo --clean` deletes this folder\n")


def _holds_anything(root: LakePath) -> bool:
    if isinstance(root, ObjectPath):  # files only: a bucket may keep empty "folder" markers of deleted keys
        return next(root.walk_files(), None) is not None
    return root.exists() and any(root.iterdir())


def demo(
    data_root: Annotated[str | None, typer.Option(help="where the demo's archive, lake and runs go; "
                                                  "s3://bucket/prefix puts the lake in a bucket (archive and "
                                                  "work files stay in a local cache folder) "
                                                  "[default: <user data dir>/cde/demo]")] = None,
    clean: Annotated[bool, typer.Option("--clean", help="delete the earlier demo data and start over")] = False,
    source: Annotated[str, typer.Option(help="synthetic (offline, generated market) or binance (real archive, "
                                        "needs internet)")] = "synthetic",
    symbols: Annotated[int, typer.Option(help="number of symbols (4–12)")] = 12,
    days: Annotated[int, typer.Option(help="days of trades from --start")] = 91,
    start: Annotated[str, typer.Option(help="first day, YYYY-MM-DD")] = "2024-01-01",
    trades_per_day: Annotated[int, typer.Option(help="mean trades per symbol-day (synthetic)")] = 5_000,
    seed: Annotated[int, typer.Option(help="seed of the generated market")] = 7,
) -> None:
    """Run the whole pipeline offline: generated archive → download → asset pool → bars → features →
    momentum backtest → metrics and HTML report. A second run resumes."""
    from pydantic import ValidationError

    from cde_server.demo.pipeline import demo_steps, run_pipeline
    from cde_server.stage_commands import require_commands

    try:
        settings = DemoSettings(data_root=data_root or default_demo_root(),
                                source=source, symbols=symbols,  # type: ignore[arg-type]
                                days=days, start=date.fromisoformat(start), trades_per_day=trades_per_day, seed=seed)
    except ValidationError as exc:
        key, message = first_validation_problem(exc)
        raise ConfigError(f"bad demo option --{key.split('.')[0].replace('_', '-')}: {message}") from None
    except ValueError as exc:  # date.fromisoformat
        raise ConfigError(f"bad demo option --start: {exc}") from None
    invoke, available = _in_process_cli()
    require_commands([step.command for step in demo_steps(settings)], available, by="`cde demo`")
    prepare_root(settings, clean=clean)
    console = Console(stderr=True)
    if settings.lake.exists():
        console.print(f"resuming the demo in {settings.data_root} (complete files, lake partitions and bars are "
                      "reused; --clean starts over)")
    else:
        console.print(f"demo data: {settings.data_root}")
    result = run_pipeline(settings, invoke, console)
    console.rule("[bold]done")
    typer.echo(f"run folder: {result.run_dir}")
    typer.echo(f"report:     {result.report}")
    typer.echo(f"total time: {result.seconds:.1f} s{' (resumed)' if result.resumed else ''}")


def _in_process_cli():  # type: ignore[no-untyped-def]
    """Invoke `cde ARGS` in this process (one plugin load, warm Numba caches) and return its exit
    code; also the top-level commands available, so missing stages are named before any work."""
    import typer.main

    from cde_server.cli.app import build_app
    from cde_server.contributions import command_names

    app = build_app()
    command = typer.main.get_command(app)

    def invoke(args: list[str]) -> int:
        result = command.main(args=args, prog_name="cde", standalone_mode=False)
        return result if isinstance(result, int) else 0

    return invoke, command_names(app)
