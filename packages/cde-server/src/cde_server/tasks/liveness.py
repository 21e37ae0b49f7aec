"""Deciding that a server instance is dead, so its tasks can be recovered.

An instance is dead when its heartbeat key expired. On the same host we can tell sooner: an
instance record whose process no longer exists — or whose pid is our own (a restarted container
reuses pid 1) — is dead, so a restart recovers at once instead of after the heartbeat TTL.
"""

from __future__ import annotations

import os

from cde_server.tasks.store import InstanceRecord, TaskStore


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
    if record.host == me.host and (record.pid == me.pid or not pid_alive(record.pid)):
        store.drop_instance(instance_id)
        return True
    return False
