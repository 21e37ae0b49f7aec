"""cde-server's own plugin module: server commands arrive through the same public hook as any
plugin's (`demo`, `serve`, `dev`, `tasks`).

The shell commands (`plugins`, `config`) are part of the CLI itself so they work even when plugin
loading is restricted with CDE_LOAD_PLUGINS.
"""

from __future__ import annotations

from typing import Any

from cde_core import hookimpl


@hookimpl
def register_commands(app: Any) -> None:
    from cde_server.cli.serve_commands import dev, serve
    from cde_server.cli.tasks_commands import tasks_app
    from cde_server.demo.command import demo

    app.command("demo")(demo)
    app.command("serve")(serve)
    app.command("dev")(dev)
    app.add_typer(tasks_app, name="tasks")
