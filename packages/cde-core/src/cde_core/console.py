"""Terminal output of the CLI (rich): progress bars on stderr, and the console tables print on."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from cde_core.progress import ProgressCallback, monotonic

console = Console(stderr=True)

#: when stdout is not a terminal, tables get this width so no value is ever cut (rich assumes 80
#: columns for pipes and would shorten values to "bina…"); a table is only as wide as its content
PIPED_WIDTH = 100_000


def table_console() -> Console:
    """The stdout console for tables: the terminal's width on a terminal; piped, whole values."""
    return Console() if sys.stdout.isatty() else Console(width=PIPED_WIDTH)


@contextlib.contextmanager
def progress_bar(description: str, *, enabled: bool | None = None) -> Iterator[ProgressCallback]:
    """Show a rich progress bar while the body runs; yields ``progress(fraction, message)``."""
    show = sys.stderr.isatty() if enabled is None else enabled
    if not show:
        yield lambda fraction, message: None
        return
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
                  TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[note]}"),
                  console=console, transient=False) as bar:
        task = bar.add_task(description, total=1.0, note="")

        def report(fraction: float, message: str) -> None:
            bar.update(task, completed=fraction, note=message[:60])

        yield monotonic(report)  # whatever the stage reports, the bar never goes back
