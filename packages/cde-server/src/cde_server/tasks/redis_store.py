"""Redis task store: tasks survive the server process and are shared by several instances.

Layout under a key prefix (default ``cde:``; ``?prefix=name`` in the URL makes it ``name:``, which is
how tests and several deployments sharing one Redis keep apart):

- ``<p>task:<id>``      hash of the TaskInfo fields (+ ``owner``); finished tasks expire after ``ttl_s``
- ``<p>tasks``          sorted set of task ids by creation time (for listing; pruned lazily)
- ``<p>active``         set of ids of queued/running tasks (for restart recovery)
- ``<p>instance:<id>``  a server instance's heartbeat (JSON host/pid) with a TTL

Every status change runs as one Lua script, so the compare-and-set on status/owner and the write
are atomic even with several servers and workers racing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Iterable
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis

from cde_core.errors import ConfigError, RemoteError
from cde_core.tasks import FINISHED, TaskInfo, TaskStatus
from cde_server.tasks.codec import decode, encode, encode_changes
from cde_server.tasks.store import InstanceRecord, Orphan

_TRANSITION = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 0 end
if not string.find(ARGV[1], ',' .. status .. ',', 1, true) then return 0 end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'owner') ~= ARGV[3] then return 0 end
if ARGV[6] ~= '' and redis.call('HGET', KEYS[1], 'lease') ~= ARGV[6] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2])
if #ARGV > 6 then redis.call('HSET', KEYS[1], unpack(ARGV, 7)) end
if tonumber(ARGV[4]) > 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  redis.call('SREM', KEYS[2], ARGV[5])
else
  redis.call('SADD', KEYS[2], ARGV[5])
end
return 1
"""

_PROGRESS = """
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'lease') ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], 'progress', ARGV[1], 'message', ARGV[2])
return 1
"""

_CANCEL = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return '' end
if status == 'queued' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'error', ARGV[1], 'finished_at', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  redis.call('SREM', KEYS[2], ARGV[4])
  return 'cancelled'
end
if status == 'running' then redis.call('HSET', KEYS[1], 'cancel_requested', 'true') end
return status
"""


def split_prefix(url: str) -> tuple[str, str]:
    """Take our own ``prefix`` query parameter out of a redis URL (redis-py rejects unknown ones)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = next((v for k, v in query if k == "prefix"), "cde")
    # the colon is added here: a trailing ':' in CDE_TASK_STORE would read as a YAML mapping
    prefix = prefix if prefix.endswith(":") else f"{prefix}:"
    rest = urlencode([(k, v) for k, v in query if k != "prefix"])
    return urlunsplit(parts._replace(query=rest)), prefix


class RedisTaskStore:
    """Tasks in Redis hashes, transitions by Lua compare-and-set."""

    name = "redis"

    def __init__(self, url: str, *, ttl_s: float = 7 * 24 * 3600, client: redis.Redis | None = None) -> None:
        connection_url, self.prefix = split_prefix(url)
        self.ttl_s = int(ttl_s)
        try:
            self.redis = client or redis.Redis.from_url(connection_url, decode_responses=True,
                                                        socket_timeout=10, socket_connect_timeout=5,
                                                        health_check_interval=30)
        except ValueError as exc:
            raise ConfigError(f"bad task store URL: {exc}", where="server.task_store",
                              hint="use redis://host:port/db") from exc
        self._transition = self.redis.register_script(_TRANSITION)
        self._progress = self.redis.register_script(_PROGRESS)
        self._cancel = self.redis.register_script(_CANCEL)

    # -- keys ----------------------------------------------------------------------------------
    def _key(self, task_id: str) -> str:
        return f"{self.prefix}task:{task_id}"

    @property
    def _index(self) -> str:
        return f"{self.prefix}tasks"

    @property
    def _active(self) -> str:
        return f"{self.prefix}active"

    def _instance_key(self, instance_id: str) -> str:
        return f"{self.prefix}instance:{instance_id}"

    # -- tasks ---------------------------------------------------------------------------------
    def ping(self) -> None:
        self.redis.ping()

    def create(self, info: TaskInfo, *, owner: str) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self._key(info.id), mapping=cast(Any, encode(info, owner=owner)))
        pipe.zadd(self._index, {info.id: info.created_at.timestamp()})
        pipe.sadd(self._active, info.id)
        pipe.execute()

    def get(self, task_id: str) -> TaskInfo | None:
        fields = cast(dict[str, str], self.redis.hgetall(self._key(task_id)))
        return decode(fields) if fields else None

    def list_tasks(self, *, status: TaskStatus | None = None, kind: str | None = None,
             limit: int = 100) -> list[TaskInfo]:
        found: list[TaskInfo] = []
        start, page = 0, max(limit, 100)
        while len(found) < limit:
            ids = cast(list[str], self.redis.zrevrange(self._index, start, start + page - 1))
            if not ids:
                break
            pipe = self.redis.pipeline(transaction=False)
            for task_id in ids:
                pipe.hgetall(self._key(task_id))
            expired = []
            for task_id, fields in zip(ids, pipe.execute(), strict=True):
                if not fields:
                    expired.append(task_id)
                    continue
                info = decode(cast(dict[str, str], fields))
                if (status is None or info.status == status) and (kind is None or info.kind == kind):
                    found.append(info)
            if expired:  # finished tasks whose hash expired: drop them from the index
                self.redis.zrem(self._index, *expired)
                start -= len(expired)
            start += page
        return found[:limit]

    def transition(self, task_id: str, to: TaskStatus, *, expect: Collection[TaskStatus],
                   expect_owner: str | None = None, owner: str | None = None,
                   expect_lease: str | None = None, lease: str | None = None,
                   **changes: Any) -> TaskInfo | None:
        fields = encode_changes(changes)
        if owner is not None:
            fields["owner"] = owner
        if lease is not None:
            fields["lease"] = lease
        flat = [item for pair in fields.items() for item in pair]
        ttl = self.ttl_s if to in FINISHED else 0
        args: list[str | int] = [f",{','.join(expect)},", to, expect_owner or "", ttl, task_id, expect_lease or "",
                                 *flat]
        done = self._transition(keys=[self._key(task_id), self._active], args=args)
        return self.get(task_id) if done else None

    def set_progress(self, task_id: str, progress: float, message: str, *, lease: str | None = None) -> bool:
        args = [json.dumps(progress), json.dumps(message), lease or ""]
        return bool(self._progress(keys=[self._key(task_id)], args=args))

    def leases(self, task_ids: Iterable[str]) -> dict[str, str | None]:
        ids = list(task_ids)
        if not ids:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for task_id in ids:
            pipe.hget(self._key(task_id), "lease")
        return dict(zip(ids, pipe.execute(), strict=True))

    def request_cancel(self, task_id: str, *, finished_at: str) -> TaskInfo | None:
        args: list[str | int] = [json.dumps("cancelled before it started"), json.dumps(finished_at), self.ttl_s,
                                 task_id]
        self._cancel(keys=[self._key(task_id), self._active], args=args)
        return self.get(task_id)

    def cancel_requested(self, task_ids: Iterable[str]) -> set[str]:
        ids = list(task_ids)
        if not ids:
            return set()
        pipe = self.redis.pipeline(transaction=False)
        for task_id in ids:
            pipe.hget(self._key(task_id), "cancel_requested")
        return {t for t, flag in zip(ids, pipe.execute(), strict=True) if flag == "true"}

    def unfinished(self) -> list[Orphan]:
        orphans = []
        for task_id in cast(set[str], self.redis.smembers(self._active)):
            fields = cast(dict[str, str], self.redis.hgetall(self._key(task_id)))
            if not fields:
                self.redis.srem(self._active, task_id)
                continue
            info = decode(fields)
            if info.status in FINISHED:
                self.redis.srem(self._active, task_id)
                continue
            orphans.append(Orphan(info, fields.get("owner", "")))
        return orphans

    # -- instances -----------------------------------------------------------------------------
    def heartbeat(self, record: InstanceRecord, ttl_s: float) -> None:
        payload = json.dumps({"host": record.host, "pid": record.pid})
        self.redis.set(self._instance_key(record.instance_id), payload, px=max(int(ttl_s * 1000), 1))

    def instance(self, instance_id: str) -> InstanceRecord | None:
        raw = self.redis.get(self._instance_key(instance_id))
        if raw is None:
            return None
        data = json.loads(raw)
        return InstanceRecord(instance_id, str(data.get("host", "")), int(data.get("pid", 0)))

    def drop_instance(self, instance_id: str) -> None:
        self.redis.delete(self._instance_key(instance_id))

    def close(self) -> None:
        self.redis.close()

    def wipe(self) -> int:
        """Delete every key under this store's prefix (tests; never the default prefix by accident)."""
        keys = list(self.redis.scan_iter(match=f"{self.prefix}*", count=500))
        for i in range(0, len(keys), 500):
            self.redis.delete(*keys[i:i + 500])
        return len(keys)


def wait_for_redis(store: RedisTaskStore, timeout_s: float) -> None:
    """Wait until Redis answers (compose starts the API and Redis together)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            store.ping()
            return
        except redis.RedisError as exc:
            if time.monotonic() > deadline:
                raise RemoteError(f"the Redis task store does not answer: {type(exc).__name__}",
                                  where=f"{store.prefix}* on {_safe_location(store)}",
                                  hint="start Redis or fix server.task_store (CDE_TASK_STORE)") from exc
            time.sleep(0.5)


def _safe_location(store: RedisTaskStore) -> str:
    """host:port/db of the store, never its password."""
    kwargs = store.redis.connection_pool.connection_kwargs
    return f"{kwargs.get('host', kwargs.get('path', '?'))}:{kwargs.get('port', '')}/{kwargs.get('db', 0)}"
