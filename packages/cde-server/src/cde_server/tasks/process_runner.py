"""Run one task function in a child process, relaying progress and cancellation.

Threads cannot be stopped from outside, processes can: a ``pool="process"`` task runs in its own
spawned process (no fork-after-threads hazards), reports progress over a pipe and sees cancellation
through a shared event. If it ignores cancellation for ``kill_grace_s`` it is killed, which is why
this is opt-in: a killed process may leave temporary files (the lake's atomic writes keep them out
of sight).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from multiprocessing.connection import Connection
from typing import Any

from cde_core.errors import CancelledError, CdeError
from cde_core.progress import CancelToken, ProgressCallback
from cde_core.tasks import TaskContext, TaskFunction
from cde_server.parent_death import die_with_parent


class TaskProcessError(CdeError):
    """The task failed inside its process (the message is the original error's)."""

    title = "task failed"
    http_status = 500


class _EventToken(CancelToken):
    """A cancel token backed by a multiprocessing event shared with the parent."""

    def __init__(self, event: Any) -> None:
        self._event = event


def _child_main(run: TaskFunction, task_id: str, conn: Connection, cancel_event: Any,
                parent_pid: int | None = None) -> None:
    # a server killed by SIGKILL takes its task processes with it: an orphan would go on committing
    # while the restarted server re-runs the task (and a quiet task would never notice the broken pipe)
    die_with_parent(signal.SIGKILL, parent_pid=parent_pid)

    def progress(fraction: float, message: str) -> None:
        conn.send(("progress", float(fraction), str(message)))

    try:
        result = run(TaskContext(task_id=task_id, progress=progress, cancel=_EventToken(cancel_event)))
        conn.send(("ok", result))
    except CancelledError as exc:
        conn.send(("cancelled", str(exc)))
    except CdeError as exc:
        conn.send(("error", str(exc)))
    except BaseException as exc:  # report anything, the parent decides the task's fate
        first = (str(exc).strip().splitlines() or [""])[0]
        conn.send(("error", f"{type(exc).__name__}: {first}" if first else type(exc).__name__))
    finally:
        conn.close()


def run_in_process(run: TaskFunction, task_id: str, progress: ProgressCallback, cancel: CancelToken, *,
                   kill_grace_s: float = 10.0, poll_s: float = 0.05) -> Any:
    """Run ``run`` in a spawned process; returns its result or raises its error in this process."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    cancel_event = ctx.Event()
    process = ctx.Process(target=_child_main, args=(run, task_id, child, cancel_event, os.getpid()), daemon=True,
                          name=f"cde-task-{task_id}")
    process.start()
    child.close()
    cancel_sent: float | None = None
    try:
        while True:
            if cancel.cancelled and cancel_sent is None:
                cancel_event.set()
                cancel_sent = time.monotonic()
            if cancel_sent is not None and time.monotonic() - cancel_sent > kill_grace_s:
                process.kill()
                raise CancelledError("task process killed: it ignored cancellation",
                                     hint=f"poll ctx.cancel at least every {kill_grace_s:g} s")
            if not parent.poll(poll_s):
                if not process.is_alive() and not parent.poll(0):
                    raise TaskProcessError(f"task process died (exit code {process.exitcode})")
                continue
            try:
                message = parent.recv()
            except EOFError:
                raise TaskProcessError(f"task process died (exit code {process.exitcode})") from None
            if message[0] == "progress":
                progress(message[1], message[2])
            elif message[0] == "ok":
                return message[1]
            elif message[0] == "cancelled":
                raise CancelledError(message[1])
            else:
                raise TaskProcessError(message[1])
    finally:
        process.join(timeout=kill_grace_s)
        if process.is_alive():
            process.kill()
            process.join()
        parent.close()
