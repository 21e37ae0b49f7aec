"""Terminal progress for long CLI work (rich), as a plain :data:`ProgressCallback`."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from cde_core.progress import ProgressCallback

console = Console(stderr=True)


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

        yield report
