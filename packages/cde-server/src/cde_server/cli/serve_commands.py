"""`cde serve` and `cde dev`: run the REST API under uvicorn.

The app is built by a factory in the server process (``--factory``), so ``--reload`` and workers
rebuild it from the same config; a ``--config`` file and the dev overrides travel to those
processes through the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from loguru import logger

from cde_core.config import CONFIG_FILE_ENV, get_config, get_loaded_config
from cde_core.errors import ConfigError

FACTORY = "cde_server.api.app:app_from_environment"


def _source_dirs() -> list[str]:
    """Source folders of cde-core and every package with a `cde` plugin (what `cde dev` watches)."""
    import importlib.metadata as md
    import importlib.util

    modules = {"cde_core", "cde_server"} | {ep.value.split(".")[0].split(":")[0]
                                            for ep in md.entry_points(group="cde")}
    folders = []
    for module in sorted(modules):
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            continue
        if spec is not None and spec.origin:
            folders.append(str(Path(spec.origin).parent))
    return folders


LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def _check_bind(host: str, port: int, log_level: str) -> None:
    """Refuse an unknown log level or a host that does not resolve before uvicorn starts (which would
    log a multi-line shutdown and exit 3 instead of saying what is wrong)."""
    import socket

    from cde_core.suggest import did_you_mean

    if log_level not in LOG_LEVELS:
        raise ConfigError(f"unknown log level '{log_level}'", where="--log-level",
                          hint=did_you_mean(log_level, LOG_LEVELS, what="levels"))
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise ConfigError(f"cannot bind to host '{host}': {exc}", where="--host / server.host",
                          hint="use an IP address or a resolvable name, e.g. 127.0.0.1 or 0.0.0.0") from None


def _check_lake_bucket() -> None:
    """Refuse to serve a lake whose bucket does not exist: every listing of it would answer an empty
    lake (200, ``[]``) and every write would fail, and cde never creates buckets. A store that does not
    answer yet is only logged: it may be starting beside the API, which answers 502 until it is up."""
    from cde_core.lake_names import missing_bucket
    from cde_core.object_store import ObjectPath, store_error

    root = get_config().data_root
    if not isinstance(root, ObjectPath):
        return
    try:
        missing = missing_bucket(root)
    except OSError as exc:
        logger.warning("the lake's object store does not answer yet: {}", store_error(exc) or exc)
        return
    if missing is not None:
        raise missing


def _run(host: str, port: int, *, reload: bool, workers: int, log_level: str) -> None:
    import uvicorn

    _check_bind(host, port, log_level)
    _check_lake_bucket()

    loaded = get_loaded_config()
    if loaded.file is not None:  # reload/worker processes load the same file
        os.environ[CONFIG_FILE_ENV] = str(loaded.file.resolve())
    store = get_config().server.task_store.split("://")[0]  # never echo a URL that may hold a password
    typer.echo(f"cde API on http://{host}:{port} (docs at /docs, task store: {store})", err=True)
    uvicorn.run(FACTORY, factory=True, host=host, port=port, reload=reload,
                reload_dirs=_source_dirs() if reload else None, workers=None if reload else workers,
                log_level=log_level, proxy_headers=True)


def serve(
    host: Annotated[str | None, typer.Option(help="bind address (default: server.host)")] = None,
    port: Annotated[int | None, typer.Option(help="bind port (default: server.port)", min=1, max=65535)] = None,
    reload: Annotated[bool, typer.Option("--reload", help="restart on code changes (development)")] = False,
    workers: Annotated[int, typer.Option(help="worker processes (use a Redis task store with more "
                                         "than one)", min=1)] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level: " + ", ".join(LOG_LEVELS))] = "info",
    insecure_no_auth: InsecureNoAuth = False,
) -> None:
    """Run the REST API (uvicorn); configuration from cde.yaml / CDE_* environment."""
    server = get_config().server
    bind = host or server.host
    check_bind(bind, has_keys=bool(server.api_keys), insecure_no_auth=insecure_no_auth)
    if workers > 1 and server.task_store == "memory":
        raise ConfigError("several workers need a shared task store: each worker's in-memory store is "
                          "its own", where="server.task_store",
                          hint="set CDE_TASK_STORE=redis://host:6379/0, or run one worker")
    _run(bind, port or server.port, reload=reload, workers=workers, log_level=log_level)


InsecureNoAuth = Annotated[bool, typer.Option(
    "--insecure-no-auth", help="serve a non-loopback address without API keys (anyone who can reach the "
    "port can download into, read and delete from the lake)")]


def check_bind(bind: str, *, has_keys: bool, insecure_no_auth: bool) -> None:
    """Closed by default: a non-loopback address is served only with API keys, or when the user says
    ``--insecure-no-auth`` (then with a warning on the console and in the log)."""
    if has_keys or is_loopback(bind):
        return
    if not insecure_no_auth:
        raise ConfigError(f"refusing to serve {bind} without API keys: anyone who reaches it could use the "
                          "whole API", where="server.api_keys",
                          hint="set CDE_API_KEYS='[<a long random key>]', bind 127.0.0.1, or pass "
                               "--insecure-no-auth to accept the risk")
    logger.warning("serving {} WITHOUT API keys (--insecure-no-auth): every client that reaches the port "
                   "can use the whole API", bind)
    typer.echo(f"warning: serving {bind} without API keys (--insecure-no-auth)", err=True)


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def dev(
    host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="bind port (default: server.port)", min=1, max=65535)] = None,
    insecure_no_auth: InsecureNoAuth = False,
) -> None:
    """Run the API for development: auto-reload and an in-memory task store."""
    os.environ["CDE_TASK_STORE"] = "memory"  # environment beats the file; reload processes inherit it
    from cde_core.config import use_config_file

    use_config_file(get_loaded_config().file)  # reload the config with the override in place
    check_bind(host, has_keys=bool(get_config().server.api_keys), insecure_no_auth=insecure_no_auth)
    _run(host, port or get_config().server.port, reload=True, workers=1, log_level="info")
