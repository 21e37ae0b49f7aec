"""A local archive server for tests and the offline demo, with switchable faults.

Serves a directory laid out like the exchanges' archives (see :mod:`cde_exchanges.archive_writer`)
over HTTP on 127.0.0.1 (a free port), in a background thread::

    with ArchiveServer(root) as server:
        server.add_fault(Fault("429", retry_after=1, times=2), "*BTCUSDT-trades-2024-01-02.zip")
        config.download.binance_archive_url = server.url

Faults apply to request paths matching a glob (or to every path), optionally only the first ``times``
matching requests: ``404``, ``429`` (+ ``Retry-After``), ``500``, ``503``, ``truncate`` (declares the
full length, sends half, closes), ``bad_checksum`` (a ``.CHECKSUM`` with a wrong digest), ``slow``
(``delay_s`` before the body and between 64 KiB chunks), ``trickle`` (``delay_s`` between pieces of
512 bytes: each read is quick, the whole body takes for ever) and ``hold`` (sends half the body, then
waits for ``fault.release()``: a download caught mid-file for as long as a test needs, e.g. to start a
second run beside it; ``fault.wait_holding()`` returns once a request is held). ``cde exchanges
serve-archive --fault KIND:GLOB[:TIMES]`` sets the same faults from the command line.
"""

from __future__ import annotations

import fnmatch
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

FaultKind = Literal["404", "429", "500", "503", "truncate", "bad_checksum", "slow", "trickle", "hold"]
#: the faults `serve-archive --fault` takes (``hold`` needs a test to release it)
FAULT_KINDS: tuple[str, ...] = ("404", "429", "500", "503", "truncate", "bad_checksum", "slow", "trickle")
SLOW_CHUNK = 64 << 10
TRICKLE_CHUNK = 512


@dataclass
class Fault:
    kind: FaultKind
    times: int | None = None  # None: every matching request
    retry_after: float | None = None
    delay_s: float = 0.5
    used: int = 0
    _holding: threading.Event = field(default_factory=threading.Event, repr=False)
    _released: threading.Event = field(default_factory=threading.Event, repr=False)

    def take(self) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        self.used += 1
        return True

    def wait_holding(self, timeout: float | None = None) -> bool:
        """``hold``: wait until a request is being held; False on timeout."""
        return self._holding.wait(timeout)

    def release(self) -> None:
        """``hold``: let held requests (and later ones) finish."""
        self._released.set()

    def hold(self) -> None:
        """The server's side of ``hold``: block this request until :meth:`release`."""
        self._holding.set()
        self._released.wait()


def parse_fault(spec: str) -> tuple[Fault, str]:
    """``KIND:GLOB[:TIMES]`` (``serve-archive --fault``) → the fault and its path glob."""
    from cde_core.errors import ConfigError

    parts = spec.split(":")
    if len(parts) not in (2, 3) or parts[0] not in FAULT_KINDS or not parts[1]:
        raise ConfigError(f"bad --fault '{spec}'", where="--fault",
                          hint=f"use KIND:GLOB[:TIMES], KIND one of {', '.join(FAULT_KINDS)}; "
                               "e.g. 404:*.CHECKSUM or trickle:*2024-06-11.zip:1")
    if len(parts) == 3 and not parts[2].isdigit():
        raise ConfigError(f"bad --fault '{spec}': TIMES must be a whole number", where="--fault")
    times = int(parts[2]) if len(parts) == 3 else None
    return Fault(parts[0], times=times, retry_after=1 if parts[0] == "429" else None), parts[1]  # type: ignore[arg-type]


@dataclass
class _Rule:
    pattern: str
    fault: Fault


@dataclass
class ServerState:
    root: Path
    rules: list[_Rule] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fault_for(self, path: str) -> Fault | None:
        with self.lock:
            self.requests.append(path)
            for rule in self.rules:
                if fnmatch.fnmatch(path, rule.pattern) and rule.fault.take():
                    return rule.fault
        return None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        return None

    def do_GET(self) -> None:
        state = self.server.state
        path = unquote(urlsplit(self.path).path).lstrip("/")
        fault = state.fault_for(path)
        target = (state.root / path).resolve()
        if fault is not None and fault.kind in ("404", "429", "500", "503"):
            headers = {}
            if fault.kind == "429" or (fault.retry_after is not None and fault.kind == "503"):
                headers["Retry-After"] = str(int(fault.retry_after or 1))
            self._status(int(fault.kind), headers)
            return
        if not target.is_file() or state.root.resolve() not in target.parents:
            self._status(404, {})
            return
        body = target.read_bytes()
        if fault is not None and fault.kind == "bad_checksum" and path.endswith(".CHECKSUM"):
            body = ("0" * 64 + body.decode()[64:]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/zip" if path.endswith(".zip") else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if fault is not None and fault.kind == "truncate":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if fault is not None and fault.kind == "hold":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            fault.hold()
            self.wfile.write(body[len(body) // 2:])
            return
        if fault is not None and fault.kind in ("slow", "trickle"):
            step = SLOW_CHUNK if fault.kind == "slow" else TRICKLE_CHUNK
            try:
                for start in range(0, len(body), step):
                    time.sleep(fault.delay_s)
                    self.wfile.write(body[start:start + step])
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):  # the client gave up: nothing more to send
                self.close_connection = True
            return
        self.wfile.write(body)

    def _status(self, code: int, headers: dict[str, str]) -> None:
        self.send_response(code)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", "0")
        self.end_headers()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: ServerState


class ArchiveServer:
    """The server; a context manager that serves in a background thread."""

    def __init__(self, root: Path | str, *, port: int = 0) -> None:
        self.state = ServerState(Path(root))
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.state = self.state
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add_fault(self, fault: Fault, pattern: str = "*") -> Fault:
        with self.state.lock:
            self.state.rules.append(_Rule(pattern, fault))
        return fault

    def clear_faults(self) -> None:
        with self.state.lock:
            self.state.rules.clear()

    def requests(self, pattern: str = "*") -> list[str]:
        with self.state.lock:
            return [p for p in self.state.requests if fnmatch.fnmatch(p, pattern)]

    def start(self) -> ArchiveServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="cde-archive-server",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def __enter__(self) -> ArchiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
