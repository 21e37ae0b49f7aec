"""Entry point of the `cde` script: one clear line per error, tracebacks only with --debug."""

from __future__ import annotations

import sys

from loguru import logger
from rich.console import Console
from rich.markup import escape

from cde_core.errors import CdeError

_err = Console(stderr=True, highlight=False, soft_wrap=True)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    code = run(args, debug="--debug" in args)
    if argv is None:
        sys.exit(code)
    return code


def run(args: list[str], *, debug: bool) -> int:
    """Run the CLI; usage errors are Typer's (exit 2), cde errors one line (exit 1)."""
    import typer.main

    from cde_server.cli.app import build_app

    try:
        command = typer.main.get_command(build_app())
        command.main(args=args, prog_name="cde", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except CdeError as exc:
        if debug:
            logger.exception("cde error")
        _err.print(f"[bold red]error:[/] {escape(str(exc))}")
        return 1
    except Exception as exc:
        if debug:
            raise
        fault = _plugin_fault(exc)
        if fault is not None:  # a third-party plugin's code failed: blame it, not cde
            _err.print(f"[bold red]error:[/] {escape(str(fault))}")
            return 1
        first = (str(exc).strip().splitlines() or [""])[0]
        _err.print(f"[bold red]internal error:[/] {escape(type(exc).__name__)}: {escape(first)} "
                   "(re-run with --debug for the traceback, and please report it)")
        return 2
    return 0


def _plugin_fault(exc: Exception) -> CdeError | None:
    from cde_core.plugin_faults import plugin_fault

    try:
        return plugin_fault(exc)
    except Exception:  # attribution is best effort; the original error is still reported
        return None


if __name__ == "__main__":
    main()
