"""A local archive server for tests and the offline demo, with switchable faults.

Serves a directory laid out like the exchanges' archives (see :mod:`cde_exchanges.fakes.archive_writer`)
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
serve-archive --fault KIND:GLOB[:TIMES]`` sets the same faults from the command line. The faults
``500`` / ``404`` / ``garbage`` (a 200 whose body is not a listing) also apply to listing requests.

Like the S3 bucket behind data.binance.vision (``https://s3-ap-northeast-1.amazonaws.com/data.binance.vision``,
path style), the server's root URL is both the bucket's objects (``GET /data/spot/…/X.zip``) and its
listing: ``GET /?delimiter=/&prefix=data/spot/daily/trades/BTCUSDT/[&marker=…][&max-keys=…]`` answers
an S3 ListObjects (version 1) ``ListBucketResult``: ``Contents`` (``Key``, ``LastModified``, ``ETag``,
``Size``, ``StorageClass``) in key order after ``marker``, ``CommonPrefixes`` for keys with the
delimiter after the prefix, at most ``max-keys`` (and at most the server's ``list_page_size``, 1000
like S3) per answer, ``IsTruncated`` and, when a delimiter was given, ``NextMarker``. Listing requests
are logged as ``?prefix=<prefix>`` (``&marker=<marker>`` on later pages) beside the object paths.
``HEAD`` answers like ``GET`` without the body.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

FaultKind = Literal["404", "429", "500", "503", "truncate", "bad_checksum", "slow", "trickle", "hold", "garbage"]
#: the faults `serve-archive --fault` takes (``hold`` needs a test to release it)
FAULT_KINDS: tuple[str, ...] = ("404", "429", "500", "503", "truncate", "bad_checksum", "slow", "trickle",
                                "garbage")
#: S3's largest ListObjects page
S3_MAX_KEYS = 1000
S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
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
    list_page_size: int = S3_MAX_KEYS
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

    def do_HEAD(self) -> None:
        self._answer(body_wanted=False)

    def do_GET(self) -> None:
        self._answer(body_wanted=True)

    def _answer(self, *, body_wanted: bool) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        path = unquote(url.path).lstrip("/")
        if not path and url.query:
            self._listing(parse_qs(url.query, keep_blank_values=True))
            return
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
        if not body_wanted:
            return
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

    def _listing(self, query: dict[str, list[str]]) -> None:
        """An S3 ListObjects (v1) answer for the archive tree (see the module docstring)."""
        state = self.server.state
        prefix = query.get("prefix", [""])[0]
        delimiter = query.get("delimiter", [""])[0]
        marker = query.get("marker", [""])[0]
        fault = state.fault_for(f"?prefix={prefix}" + (f"&marker={marker}" if marker else ""))
        if fault is not None and fault.kind in ("404", "429", "500", "503"):
            self._status(int(fault.kind), {"Retry-After": "1"} if fault.kind in ("429", "503") else {})
            return
        try:
            max_keys = min(int(query.get("max-keys", [str(S3_MAX_KEYS)])[0]), state.list_page_size)
        except ValueError:
            self._status(400, {})
            return
        entries: list[tuple[str, Path | None]] = []  # (key, file) or (common prefix, None), in key order
        for key, file in _keys_under(state.root, prefix):
            rest = key[len(prefix):]
            if delimiter and delimiter in rest:
                rolled = prefix + rest.split(delimiter, 1)[0] + delimiter
                if rolled > marker and (not entries or entries[-1][0] != rolled):
                    entries.append((rolled, None))
            elif key > marker:
                entries.append((key, file))
        page, truncated = entries[:max_keys], len(entries) > max_keys
        parts = [f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="{S3_NAMESPACE}">',
                 f"<Name>{escape(state.root.name)}</Name><Prefix>{escape(prefix)}</Prefix>",
                 f"<Marker>{escape(marker)}</Marker><MaxKeys>{max_keys}</MaxKeys>",
                 f"<Delimiter>{escape(delimiter)}</Delimiter>" if delimiter else "",
                 f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"]
        for key, file in page:
            if file is None:
                parts.append(f"<CommonPrefixes><Prefix>{escape(key)}</Prefix></CommonPrefixes>")
                continue
            stat = file.stat()
            modified = datetime.fromtimestamp(stat.st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            etag = hashlib.md5(file.read_bytes()).hexdigest()  # S3's ETag of a simple upload
            parts.append(f"<Contents><Key>{escape(key)}</Key><LastModified>{modified}</LastModified>"
                         f"<ETag>&quot;{etag}&quot;</ETag><Size>{stat.st_size}</Size>"
                         "<StorageClass>STANDARD</StorageClass></Contents>")
        if truncated and delimiter:
            parts.append(f"<NextMarker>{escape(page[-1][0])}</NextMarker>")
        parts.append("</ListBucketResult>")
        body = "".join(parts).encode()
        if fault is not None and fault.kind == "garbage":
            body = b"<html><body>Not a listing</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _status(self, code: int, headers: dict[str, str]) -> None:
        self.send_response(code)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _keys_under(root: Path, prefix: str) -> list[tuple[str, Path]]:
    """Every file of the archive tree whose key (path under the root, with ``/``) starts with
    ``prefix``, in key order (S3 lists in UTF-8 binary order)."""
    folder = root / prefix.rsplit("/", 1)[0] if "/" in prefix else root
    found = []
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            file = Path(dirpath) / name
            key = file.relative_to(root).as_posix()
            if key.startswith(prefix) and ".tmp-" not in name:
                found.append((key, file))
    return sorted(found, key=lambda item: item[0].encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: ServerState


class ArchiveServer:
    """The server; a context manager that serves in a background thread."""

    def __init__(self, root: Path | str, *, port: int = 0, list_page_size: int = S3_MAX_KEYS) -> None:
        self.state = ServerState(Path(root), list_page_size=list_page_size)
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
