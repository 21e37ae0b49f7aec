"""cde-server's own plugin module: server commands and routes arrive through the public hooks.

The shell commands (`plugins`, `config`) are part of the CLI itself so they work even when plugin
loading is restricted with CDE_LOAD_PLUGINS.
"""

from __future__ import annotations

from typing import Any

from cde_core import hookimpl


@hookimpl
def register_commands(app: Any) -> None:
    """Server commands (`serve`, `dev`, `tasks`) are added here as they are built."""
