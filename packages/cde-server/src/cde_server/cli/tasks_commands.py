"""`cde tasks ls|show|cancel`: watch and cancel tasks on a running server over HTTP."""

from __future__ import annotations

import json
import time
from typing import Annotated, get_args

import typer
from rich.table import Table

from cde_core.console import table_console
from cde_core.errors import ConfigError, RemoteError
from cde_core.suggest import did_you_mean
from cde_core.tasks import FINISHED, TaskInfo, TaskStatus
from cde_server.cli.api_client import ApiClient, ApiError

tasks_app = typer.Typer(help="list, show and cancel tasks of a running server", no_args_is_help=True)

UrlOption = Annotated[str | None, typer.Option("--url", help="server URL (default: from server.host/port)",
                                               envvar="CDE_URL")]
KeyOption = Annotated[str | None, typer.Option("--api-key", help="X-API-Key (default: $CDE_API_KEY or the "
                                               "first server.api_keys)", envvar="CDE_API_KEY")]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON")]


def _print_task(task: TaskInfo) -> None:
    console = table_console()
    console.print(f"[bold]{task.id}[/]  {task.kind}  [bold]{task.status}[/]  {task.progress:.0%}  {task.message}")
    console.print(f"created {task.created_at:%Y-%m-%d %H:%M:%S}  started {task.started_at or '-'}  "
                  f"finished {task.finished_at or '-'}")
    if task.error:
        console.print(f"[red]error:[/] {task.error}", markup=True, highlight=False)
    if task.result is not None:
        console.print_json(json.dumps(task.result))


@tasks_app.command("ls")
def tasks_ls(
    url: UrlOption = None,
    api_key: KeyOption = None,
    status: Annotated[str | None, typer.Option(help="queued, running, succeeded, failed or cancelled")] = None,
    kind: Annotated[str | None, typer.Option(help="only this kind")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: JsonOption = False,
) -> None:
    """List tasks, newest first."""
    params: dict[str, str | int] = {"limit": limit}
    if status:
        known = get_args(TaskStatus)
        if status not in known:
            raise ConfigError(f"unknown task status '{status}'", where="--status",
                              hint=did_you_mean(status, known, what="statuses"))
        params["status"] = status
    if kind:
        params["kind"] = kind
    client = ApiClient(url, api_key=api_key)
    tasks = [TaskInfo.model_validate(t) for t in client.request("GET", "/tasks", params=params)]
    if as_json:
        typer.echo(json.dumps([t.model_dump(mode="json") for t in tasks], indent=2))
        return
    table = Table(title=f"tasks on {client.url}")
    for column in ("id", "kind", "status", "progress", "message", "created"):
        table.add_column(column, overflow="fold")
    for t in tasks:
        table.add_row(t.id, t.kind, t.status, f"{t.progress:.0%}", t.error or t.message,
                      f"{t.created_at:%Y-%m-%d %H:%M:%S}")
    table_console().print(table)


@tasks_app.command("show")
def tasks_show(
    task_id: Annotated[str, typer.Argument(help="task id")],
    url: UrlOption = None,
    api_key: KeyOption = None,
    wait: Annotated[bool, typer.Option("--wait", help="poll until the task finishes; exit 1 unless it "
                                       "succeeded")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show one task (status, progress, result or error)."""
    client = ApiClient(url, api_key=api_key)
    task = _poll_through_outages(client, task_id) if wait else \
        TaskInfo.model_validate(client.request("GET", f"/tasks/{task_id}"))
    while wait and task.status not in FINISHED:
        time.sleep(0.5)
        task = _poll_through_outages(client, task_id)
    if as_json:
        typer.echo(task.model_dump_json(indent=2))
    else:
        _print_task(task)
    if wait and task.status != "succeeded":
        raise typer.Exit(1)


#: how long ``--wait`` keeps trying a server that cannot be reached at all (a restart takes seconds)
UNREACHABLE_WAIT_S = 60.0


def _poll_through_outages(client: ApiClient, task_id: str) -> TaskInfo:
    """The task, waiting out what a long wait meets on the way: the task store down (503, retried after
    its Retry-After for as long as it lasts: the task is not lost, its server says so) and the server
    restarting (unreachable, retried for up to :data:`UNREACHABLE_WAIT_S`). Each outage is said once."""
    said: str | None = None
    unreachable_since: float | None = None
    while True:
        try:
            return TaskInfo.model_validate(client.request("GET", f"/tasks/{task_id}"))
        except ApiError as exc:
            if exc.http_status != 503:
                raise
            unreachable_since = None  # the server answers again
            outage, delay = str(exc), min(exc.retry_after_s or 1.0, 5.0)
        except RemoteError as exc:
            unreachable_since = unreachable_since or time.monotonic()
            if time.monotonic() - unreachable_since > UNREACHABLE_WAIT_S:
                raise
            outage, delay = str(exc), 1.0
        if outage != said:
            said = outage
            typer.echo(f"waiting: {outage}; retrying", err=True)
        time.sleep(delay)


@tasks_app.command("cancel")
def tasks_cancel(
    task_id: Annotated[str, typer.Argument(help="task id")],
    url: UrlOption = None,
    api_key: KeyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Cancel a task: queued ones at once, running ones at their next cancel check."""
    client = ApiClient(url, api_key=api_key)
    task = TaskInfo.model_validate(client.request("POST", f"/tasks/{task_id}/cancel"))
    if as_json:
        typer.echo(task.model_dump_json(indent=2))
    else:
        typer.echo(f"{task.id}: {task.status}" + (" (cancel requested)" if task.cancel_requested else ""))
