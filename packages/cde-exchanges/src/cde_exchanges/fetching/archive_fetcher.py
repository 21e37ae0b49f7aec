"""Fetch one archive file over HTTP: stream to a temporary file, verify, rename into the cache.

Retries (exponential back-off with jitter, at most ``DownloadConfig.retries`` times) on timeouts,
broken connections, truncated bodies, 429 (waiting at least the server's ``Retry-After``), 5xx and a
sha256 that does not match the published ``.CHECKSUM``. A 404 *of the zip* means "no data that day":
it is recorded, not raised. A zip whose ``.CHECKSUM`` is 404 is *unverified*: the file fails unless
the request allows unverified files (then its zip CRC-32 is checked and the outcome says so; it is
never cached as verified). Where the archive lists its files (Binance's S3 bucket,
:mod:`cde_exchanges.fetching.archive_listing`), a file the listing does not hold is "missing" without
any request and without a marker; a listed file is fetched even if an old marker said it was missing.
Any other 4xx fails at once. Each read waits at most ``timeout_s`` and a
whole file at most ``file_deadline_s``, so a trickling server cannot hold a download for ever. Nothing
unverified is ever left under the final name, so a killed process leaves at most a hidden temporary
file, removed on the next run.

A cached zip is reused only while it is still the published file: its bytes must hash to the sha256
recorded when it was verified, and (where the exchange publishes one) that sha256 must equal the
current ``.CHECKSUM`` — exchanges republish corrected archives under the same name. Otherwise it is
fetched again; ``refetch`` (``--force``) always fetches again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import threading
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

import httpx

from cde_core.atomic import fsync_dir, temp_path_for
from cde_core.config import DownloadConfig
from cde_core.errors import ChecksumError, DataError, RemoteError
from cde_exchanges.download.models import FileOutcome
from cde_exchanges.fetching.archive_cache import ArchiveCache
from cde_exchanges.fetching.archive_listing import S3FolderListing
from cde_exchanges.formats.archive_files import ArchiveFile

MAX_RETRY_AFTER_S = 300.0


class TransferMonitor(Protocol):
    """Receives byte-level progress (the CLI draws it; the API ignores it)."""

    def expect_bytes(self, n: int) -> None: ...
    def advance_bytes(self, n: int) -> None: ...
    def file_done(self, outcome: FileOutcome) -> None: ...


class NullMonitor:
    def expect_bytes(self, n: int) -> None:
        return None

    def advance_bytes(self, n: int) -> None:
        return None

    def file_done(self, outcome: FileOutcome) -> None:
        return None


class _Retry(Exception):
    """A transient failure; ``wait`` is the server-imposed minimum delay (Retry-After)."""

    def __init__(self, reason: str, wait: float = 0.0) -> None:
        super().__init__(reason)
        self.wait = wait


class _Missing(Exception):
    pass


#: the ``.CHECKSUM`` of a file is 404 (the zip itself may exist)
UNPUBLISHED = "unpublished"


class UnverifiedError(DataError):
    """The zip exists but its ``.CHECKSUM`` is 404, and unverified files are not allowed."""


def parse_retry_after(value: str | None) -> float:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); 0 when absent/bad."""
    if not value:
        return 0.0
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - datetime.now(UTC)).total_seconds(), 0.0), MAX_RETRY_AFTER_S)


def parse_checksum(text: str, *, where: str) -> str:
    """The hex digest of a ``sha256sum`` line ``<64 hex><two spaces><name>``."""
    digest = text.strip().split(maxsplit=1)[0].lower() if text.strip() else ""
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise DataError("unreadable .CHECKSUM file", where=where, hint="expected '<sha256 hex>  <file name>'")
    return digest


class ArchiveFetcher:
    """Thread-safe: one shared httpx client, used by ``concurrency`` worker threads."""

    def __init__(self, base_url: str, config: DownloadConfig, cache: ArchiveCache,
                 monitor: TransferMonitor | None = None, *, sleep: Callable[[float], None] = time.sleep,
                 recheck_missing: bool = False, refetch: bool = False, allow_unverified: bool = False,
                 listing_url: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.config = config
        self.cache = cache
        self.monitor = monitor or NullMonitor()
        self.sleep = sleep
        self.recheck_missing = recheck_missing
        self.refetch = refetch
        self.allow_unverified = allow_unverified
        timeout = httpx.Timeout(config.timeout_s)
        limits = httpx.Limits(max_connections=config.concurrency * 2, max_keepalive_connections=config.concurrency)
        self.client = httpx.Client(timeout=timeout, limits=limits, follow_redirects=True)
        #: the archive's listing, when it has one: a file it does not list is missing, without a request
        self.listing = S3FolderListing(self.client, listing_url) if listing_url else None
        self._rng = random.Random()
        self._lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def url(self, rel_path: str) -> str:
        return f"{self.base_url}/{rel_path}"

    # -- public --------------------------------------------------------------------------------
    def fetch(self, file: ArchiveFile) -> FileOutcome:
        """Fetch ``file`` into the cache (or reuse it there). The caller holds the file's symbol lock
        (:mod:`cde_exchanges.download.locks`), so temporary files of this file are a dead run's."""
        url = self.url(file.rel_path)
        try:
            self.cache.clean_partial(file)
            cached = self._reusable(file)
        except DataError as exc:
            outcome = FileOutcome(url=url, status="failed", error=str(exc))
        else:
            listed = self.listing.exists(file.rel_path) if self.listing is not None and cached is None else None
            if cached is not None and file.checksum_rel_path is None:
                outcome = FileOutcome(url=url, status="cached", sha256=cached)
            elif listed is False or (listed is None and cached is None and not self.recheck_missing
                                     and self.cache.known_missing(file)):
                outcome = FileOutcome(url=url, status="missing")  # not listed: no request, no marker left
            else:
                outcome = self._download(file, url, cached)
        self.monitor.file_done(outcome)
        return outcome

    def known_to_exist(self, file: ArchiveFile) -> bool | None:
        """Whether ``file`` exists: True for a verified zip in the cache, False for a fresh missing
        marker (unless ``recheck_missing``), else from one ``HEAD`` request: True (200), False (404),
        None for any other answer (the caller then cannot rely on it). Writes nothing, not even a
        missing marker."""
        try:
            if self.cache.verified(file) is not None:
                return True
            if not self.recheck_missing and self.cache.known_missing(file):
                return False
        except OSError:  # an unreadable cache entry: ask the archive (fetch names the entry later)
            pass
        try:
            status = self.client.head(self.url(file.rel_path)).status_code
        except (httpx.TimeoutException, httpx.TransportError):
            return None
        return True if status == 200 else False if status == 404 else None

    def _reusable(self, file: ArchiveFile) -> str | None:
        """The sha256 of the cached zip if it may be reused (still to be compared with the published
        checksum); a cached zip that may not is removed."""
        recorded = self.cache.verified(file)
        if recorded is not None and not self.refetch and self.cache.content_sha256(file) == recorded:
            return recorded
        if recorded is not None or self.cache.zip_path(file).exists():
            self.cache.forget(file)  # refetched, changed on disk, or a zip that was never verified
        return None

    # -- internals -----------------------------------------------------------------------------
    def _download(self, file: ArchiveFile, url: str, cached: str | None = None) -> FileOutcome:
        """Stream ``file`` into the cache, unless ``cached`` (the cached zip's sha256) is still the
        published checksum: then only the small ``.CHECKSUM`` is fetched."""
        attempts = 0
        while True:
            attempts += 1
            try:
                expected = self._expected_checksum(file)
                if cached is not None and expected == cached:
                    return FileOutcome(url=url, status="cached", sha256=cached, attempts=attempts)
                if cached is not None:  # republished: the cached copy is not the published file any more
                    self.cache.forget(file)
                    cached = None
                sha, size = self._stream_to_cache(file, url, expected)
                return FileOutcome(url=url, status="downloaded", bytes=size, sha256=sha, attempts=attempts,
                                   unverified=expected == UNPUBLISHED)
            except _Missing:
                self.cache.mark_missing(file, url)
                return FileOutcome(url=url, status="missing", attempts=attempts)
            except (_Retry, ChecksumError) as exc:
                if attempts > self.config.retries:
                    error = exc if isinstance(exc, ChecksumError) else RemoteError(
                        f"gave up after {attempts} attempts: {exc}", where=url,
                        hint="try again later or raise download.retries / download.timeout_s")
                    return FileOutcome(url=url, status="failed", attempts=attempts, error=str(error))
                self.sleep(self._backoff(attempts, getattr(exc, "wait", 0.0)))
            except (RemoteError, DataError) as exc:
                return FileOutcome(url=url, status="failed", attempts=attempts, error=str(exc),
                                   unverified=isinstance(exc, UnverifiedError))

    def _backoff(self, attempt: int, floor: float) -> float:
        with self._lock:
            jitter = 0.5 + self._rng.random()
        return max(floor, self.config.backoff_s * 2 ** (attempt - 1) * jitter)

    def _get_small(self, url: str) -> str:
        body = bytearray()
        try:
            with self.client.stream("GET", url) as response:
                self._check_status(response, url)
                deadline = self._deadline()
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    deadline(len(body))
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise _Retry(f"{type(exc).__name__} on {url}") from exc
        return body.decode("utf-8", errors="replace")

    def _deadline(self) -> Callable[[int], None]:
        """A check to call after each read: raises a retryable error once the file has taken longer than
        ``file_deadline_s`` in all (``timeout_s`` bounds each read only)."""
        limit = self.config.file_deadline_s
        started = time.monotonic()

        def check(received: int) -> None:
            if time.monotonic() - started > limit:
                raise _Retry(f"the download took longer than the {limit:g} s per-file deadline "
                             f"(download.file_deadline_s; {received:,} bytes received)")

        return check

    def _check_status(self, response: httpx.Response, url: str) -> None:
        status = response.status_code
        if status == 404:
            raise _Missing()
        if status == 429:
            raise _Retry("HTTP 429 Too Many Requests", parse_retry_after(response.headers.get("Retry-After")))
        if status >= 500:
            raise _Retry(f"HTTP {status}", parse_retry_after(response.headers.get("Retry-After")))
        if status >= 400:
            raise RemoteError(f"HTTP {status}", where=url, hint="check the symbol, market and date")

    def _expected_checksum(self, file: ArchiveFile) -> str | None:
        """The published sha256; None when the exchange publishes none (OKX); :data:`UNPUBLISHED` when
        this file's ``.CHECKSUM`` is 404 (whether the zip exists is asked next)."""
        if file.checksum_rel_path is None:
            return None
        url = self.url(file.checksum_rel_path)
        try:
            return parse_checksum(self._get_small(url), where=url)
        except _Missing:
            return UNPUBLISHED

    def _stream_to_cache(self, file: ArchiveFile, url: str, expected: str | None) -> tuple[str, int]:
        target = self.cache.zip_path(file)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_path_for(target)
        digest = hashlib.sha256()
        size = 0
        try:
            with self.client.stream("GET", url) as response:
                self._check_status(response, url)  # a 404 here, of the zip itself, is "no data"
                if expected == UNPUBLISHED and not self.allow_unverified:
                    raise UnverifiedError(f"published without its checksum ({file.name}.CHECKSUM is 404): the zip "
                                    "cannot be verified", where=url,
                                    hint="try again later (the checksum may not be published yet), or pass "
                                         "--allow-unverified to accept it on its zip CRC-32 alone (recorded in "
                                         "the provenance)")
                declared = int(response.headers.get("Content-Length", "0") or 0)
                if declared:
                    self.monitor.expect_bytes(declared)
                deadline = self._deadline()
                with open(tmp, "wb") as fh:
                    for chunk in response.iter_bytes():  # each read as it comes, so the deadline is checked
                        fh.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
                        self.monitor.advance_bytes(len(chunk))
                        deadline(size)
                    fh.flush()
                    os.fsync(fh.fileno())
            if declared and size != declared:
                raise _Retry(f"truncated body: {size} of {declared} bytes")
            sha = digest.hexdigest()
            verified = expected not in (None, UNPUBLISHED)
            if verified and sha != expected:
                raise ChecksumError(f"sha256 {sha[:12]}… does not match the published {expected[:12]}…",
                                    where=url, hint="the file may have been replaced; retry later")
            if not verified:
                _check_zip(tmp, url)
            os.replace(tmp, target)
            fsync_dir(target.parent)
            if expected != UNPUBLISHED:  # an unverified zip is used once, never trusted from the cache
                self.cache.mark_verified(file, sha)
            return sha, size
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise _Retry(f"{type(exc).__name__} on {url}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def _check_zip(path: os.PathLike[str], url: str) -> None:
    """Without a published checksum, the zip's own CRC-32 is the integrity check."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise _Retry(f"corrupt zip ({exc})") from exc
    if bad is not None:
        raise _Retry(f"corrupt zip member {bad}")
