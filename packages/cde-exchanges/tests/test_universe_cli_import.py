"""The universe CLI module is imported on every `cde` run, so it must stay light."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_cli_loads_no_heavy_library() -> None:
    probe = ("import sys, cde_exchanges.universe.cli as cli, typer; cli.register(typer.Typer()); "
             "print(','.join(m for m in ('ccxt', 'pandas', 'numpy', 'pyarrow') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == ""
