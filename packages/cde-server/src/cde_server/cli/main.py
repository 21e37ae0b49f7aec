"""Entry point of the `cde` script: one clear line per error, tracebacks only with --debug."""

from __future__ import annotations

import sys

from loguru import logger
from rich.console import Console
from rich.markup import escape

from cde_core.errors import CdeError, first_validation_problem

_err = Console(stderr=True, highlight=False, soft_wrap=True)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    code = run(args, debug="--debug" in args)
    if argv is None:
        # Arrow objects kept in reference cycles (an error's traceback holds the frames of a reader that
        # stopped half-way) must be freed while Arrow is alive: freed in the interpreter's teardown they
        # sometimes abort the process ("terminate called without an active exception", exit 134 instead
        # of the command's own code; apache/arrow#34314)
        import gc

        gc.collect()
        sys.exit(code)
    return code


def run(args: list[str], *, debug: bool) -> int:
    """Run the CLI: every mistake of the user is one line on stderr and a non-zero exit (usage errors
    2, cde errors and bad values 1); only a bug is an "internal error", with the traceback under --debug."""
    import typer
    import typer.main
    from pydantic import ValidationError
    from typer._click import exceptions as click_errors  # Typer vendors click; its errors live here

    from cde_core.plugin_guard import plugin_prints_to_stderr
    from cde_server.cli.app import build_app

    try:
        with plugin_prints_to_stderr("--json" in args):  # a plugin's print never breaks the JSON on stdout
            command = typer.main.get_command(build_app())
            code = command.main(args=args, prog_name="cde", standalone_mode=False)
    except click_errors.NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
        return exc.exit_code
    except click_errors.ClickException as exc:
        where = f" ({exc.ctx.command_path})" if getattr(exc, "ctx", None) is not None else ""
        help_hint = f" — see `{exc.ctx.command_path} --help`" if getattr(exc, "ctx", None) is not None else ""
        _one_line(f"{exc.format_message()}{where}{help_hint}")
        return exc.exit_code
    except typer.Abort:
        _one_line("aborted")
        return 1
    except SystemExit as exc:
        fault = _plugin_fault(exc)
        if fault is not None:  # a plugin's object called sys.exit: the command did not finish, whatever the code
            _err.print(f"[bold red]error:[/] {escape(str(fault))}")
            return 1
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except CdeError as exc:
        if debug:
            logger.exception("cde error")
        from cde_core.object_store import store_outage

        # a stage wrapped the store's failure ("unreadable partition …"): say the store is down instead
        _one_line(str(store_outage(exc) or exc))
        return 1
    except ValidationError as exc:  # a request model built from the user's values
        if debug:
            logger.exception("bad value")
        key, message = first_validation_problem(exc, root="(input)")
        _one_line(f"bad value for {key}: {message} ({exc.title}) — see the command's --help")
        return 1
    except OSError as exc:  # a path the user named cannot be read or written (not a folder, no permission …)
        from cde_core.object_store import store_error

        remote = store_error(exc)  # a bucket lake's store cannot be reached, or refused us
        if remote is not None and not debug:
            _one_line(str(remote))
            return 1
        if debug or exc.filename is None:
            raise
        _one_line(f"{exc.strerror or type(exc).__name__}: {exc.filename}"
                  + (f" → {exc.filename2}" if exc.filename2 else "") + " — check the path and its permissions")
        return 1
    except Exception as exc:
        if debug:
            raise
        from cde_core.lake import unreadable_parquet

        bad_file = unreadable_parquet(exc)  # a damaged or foreign file in the lake, met by a dataset scan
        if bad_file is not None:
            _one_line(str(bad_file))
            return 1
        fault = _plugin_fault(exc)
        if fault is not None:  # a third-party plugin's code failed: blame it, not cde
            _err.print(f"[bold red]error:[/] {escape(str(fault))}")
            return 1
        first = (str(exc).strip().splitlines() or [""])[0]
        _err.print(f"[bold red]internal error:[/] {escape(type(exc).__name__)}: {escape(first)} "
                   "(re-run with --debug for the traceback, and please report it)")
        return 2
    except (KeyboardInterrupt, GeneratorExit):
        raise
    except BaseException as exc:  # neither Exception nor SystemExit: only a plugin's own class raises one
        fault = _plugin_fault(exc)
        if fault is None or debug:
            raise
        _err.print(f"[bold red]error:[/] {escape(str(fault))}")
        return 1
    return code if isinstance(code, int) else 0


def _one_line(message: str) -> None:
    """Print a user error as exactly one line (newlines inside a message are folded)."""
    _err.print(f"[bold red]error:[/] {escape(' '.join(message.split()))}")


def _plugin_fault(exc: BaseException) -> CdeError | None:
    from cde_core.plugin_faults import plugin_fault

    try:
        return plugin_fault(exc)
    except Exception:  # attribution is best effort; the original error is still reported
        return None


if __name__ == "__main__":
    main()
