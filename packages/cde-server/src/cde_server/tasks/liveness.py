"""Deciding that a server instance is dead, so its tasks can be recovered.

An instance is dead when its heartbeat key expired. On the same host we can tell sooner: an
instance record whose process no longer exists — or whose pid is our own (a restarted container
reuses pid 1) while no live manager of this process has its id — is dead, so a restart recovers at
once instead of after the heartbeat TTL. Several managers may share one process (two apps, a test
suite) and one store: each is registered here while it runs, so none takes a sibling for a dead
predecessor and fails or re-runs the sibling's running tasks.
"""

from __future__ import annotations

import os

from cde_server.tasks.store import InstanceRecord, TaskStore

#: ids of the task managers running in this process (see the module docstring)
_LIVE_HERE: set[str] = set()


def announce_live(instance_id: str) -> None:
    """Record that the manager ``instance_id`` runs in this process (from its start)."""
    _LIVE_HERE.add(instance_id)


def announce_gone(instance_id: str) -> None:
    """Record that the manager ``instance_id`` stopped (from its close)."""
    _LIVE_HERE.discard(instance_id)


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def instance_is_dead(store: TaskStore, instance_id: str, me: InstanceRecord) -> bool:
    if instance_id == me.instance_id:
        return False
    record = store.instance(instance_id)
    if record is None:
        return True
    same_process = record.pid == me.pid
    if record.host == me.host and ((same_process and instance_id not in _LIVE_HERE)
                                   or (not same_process and not pid_alive(record.pid))):
        store.drop_instance(instance_id)
        return True
    return False
