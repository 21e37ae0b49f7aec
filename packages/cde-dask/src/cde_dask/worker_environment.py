"""What a Dask worker needs to reach an object-store lake, checked on the worker before a job runs.

A job carries only the lake's URL (``s3://bucket/prefix``); the endpoint and the credentials come from
the *worker's* environment. A worker started without them would not fail clearly: without
``AWS_ENDPOINT_URL`` the client goes to AWS instead of the MinIO/Ceph/R2 store, and without keys it
probes the instance-metadata service and then sends unsigned requests, ending in an Arrow/AWS-SDK
error far from the cause. So the client records how *it* reaches the store (an endpoint override?
static keys?) next to each job, and the worker compares that with its own environment first, failing
with one line that names the missing variable.
"""

from __future__ import annotations

import itertools
import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cde_core.contracts.executor import Job
from cde_core.errors import ConfigError, RemoteError
from cde_core.object_store import ObjectPath, endpoint_from_environment, is_url

ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
KEY_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
#: credential sources of the AWS default chain other than the two key variables
OTHER_CREDENTIAL_VARIABLES = ("AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                              "AWS_CONTAINER_CREDENTIALS_FULL_URI")
#: how deep job arguments are searched for a lake URL: (args, kwargs) → an argument → three levels of
#: dicts/lists/tuples inside it (a request model's JSON dump) — bounded, since arguments may be big
_SEARCH_DEPTH = 5
#: items looked at per container: a lake URL sits among the first arguments, not in a million-item list
_SEARCH_WIDTH = 64


@dataclass(frozen=True)
class ObjectStoreNeeds:
    """How the submitting process reaches the object store(s) a job refers to.

    Only kinds of settings travel, never values: the worker may reach the same store under another
    name (``http://minio:9000`` inside a compose network, ``http://127.0.0.1:9000`` on the host), and
    secrets stay out of the task graph.
    """

    url: str
    endpoint_override: bool
    static_keys: bool


def object_store_url(value: Any, depth: int = _SEARCH_DEPTH) -> str | None:
    """The first object-store URL (an :class:`ObjectPath` or an ``s3://…`` string) in ``value``."""
    if isinstance(value, ObjectPath):
        return str(value)
    if isinstance(value, str):
        return value if is_url(value) else None
    if depth == 0:
        return None
    items: Iterable[Any]
    if isinstance(value, Mapping):
        items = value.values()
    elif isinstance(value, list | tuple):
        items = value
    else:
        return None
    for item in itertools.islice(items, _SEARCH_WIDTH):
        found = object_store_url(item, depth - 1)
        if found is not None:
            return found
    return None


def needs_of(job: Job, environ: Mapping[str, str] | None = None) -> ObjectStoreNeeds | None:
    """What the worker must offer to run ``job``, or None when the job names no object store."""
    url = object_store_url((job.args, job.kwargs))
    if url is None:
        return None
    env = os.environ if environ is None else environ
    return ObjectStoreNeeds(url=url, endpoint_override=any(env.get(v) for v in ENDPOINT_VARIABLES),
                            static_keys=bool(env.get("AWS_ACCESS_KEY_ID")))


def missing_setting(needs: ObjectStoreNeeds, environ: Mapping[str, str] | None = None,
                    home: Path | None = None) -> str | None:
    """What this (worker) environment lacks to reach the store as the client does; None if nothing."""
    env = os.environ if environ is None else environ
    if needs.endpoint_override and not any(env.get(v) for v in ENDPOINT_VARIABLES):
        return ("AWS_ENDPOINT_URL is not set (the client reaches the store through an endpoint override; "
                "without it this worker would go to AWS)")
    present = [v for v in KEY_VARIABLES if env.get(v)]
    if len(present) == 1:
        absent = next(v for v in KEY_VARIABLES if v not in present)
        return f"{absent} is not set ({present[0]} is)"
    if needs.static_keys and not present and not _other_credentials(env, home, needs.endpoint_override):
        return "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (no other AWS credentials found either)"
    return None


def _other_credentials(env: Mapping[str, str], home: Path | None, endpoint_override: bool) -> bool:
    """A credential source of the AWS default chain besides the key variables. The instance role counts
    only for AWS itself (no endpoint override) and while the metadata service is not switched off."""
    if any(env.get(v) for v in OTHER_CREDENTIAL_VARIABLES):
        return True
    home = home or Path.home()
    files = [env.get("AWS_SHARED_CREDENTIALS_FILE") or str(home / ".aws" / "credentials"),
             env.get("AWS_CONFIG_FILE") or str(home / ".aws" / "config")]
    if any(Path(f).expanduser().is_file() for f in files):
        return True
    return not endpoint_override and env.get("AWS_EC2_METADATA_DISABLED", "").lower() != "true"


def check_worker_environment(needs: ObjectStoreNeeds) -> None:
    """Raise a one-line :class:`ConfigError` naming what this worker lacks to reach ``needs.url``."""
    missing = missing_setting(needs)
    if missing is not None:
        raise ConfigError(f"this Dask worker cannot reach the lake: {missing}",
                          where=f"worker on {socket.gethostname()}, lake {needs.url}",
                          hint="set the AWS variables in the environment of every Dask worker "
                               "(the same kinds the cde client uses), then re-run; finished partitions are kept")


def run_on_worker(job: Job, needs: ObjectStoreNeeds | None) -> Any:
    """A job as Dask runs it: the object-store preflight, then the job; an S3 transport error the job
    lets through becomes one line that says which store and what to check."""
    if needs is None:
        return job()
    check_worker_environment(needs)
    try:
        return job()
    except OSError as exc:
        if "AWS Error" not in str(exc):
            raise
        first = (str(exc).strip().splitlines() or [""])[0]
        endpoint = endpoint_from_environment() or "AWS"
        raise RemoteError(f"the object store failed on a Dask worker: {first}",
                          where=f"worker on {socket.gethostname()}, endpoint {endpoint}, lake {needs.url}",
                          hint="check AWS_ENDPOINT_URL and the AWS credentials in the workers' environment "
                               "and that the bucket exists") from None
