"""Which archive files exist, from the archive's own listing, instead of asking for each file.

data.binance.vision is an S3 bucket, and S3 lists a folder's keys on request: ``GET
<bucket url>?delimiter=/&prefix=data/spot/daily/trades/BTCUSDT/`` answers a ListObjects (version 1)
``ListBucketResult`` with one ``Contents/Key`` per file, at most 1,000 per answer; while
``IsTruncated`` is ``true`` the next answer is asked with ``marker`` = ``NextMarker`` (or the last key
when there is none). One listing of a symbol's folder (a few pages for years of daily files) tells
which days and months exist, so a range starting decades before the symbol's first archive costs no
request per absent day and leaves no "missing" marker behind.

The listing is a shortcut, never a source of truth about the data: when it cannot be read (any HTTP
status but 200, a broken connection, a body that is not a listing of the folder asked for, pages that
do not advance) the run logs one warning and asks file by file, as without a listing (a listing that
cannot be reached at all is logged at INFO only: the files' own requests then fail with their error).
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET

import httpx
from loguru import logger

#: pages of one folder listed at most (1,000 keys each): a bound on a server that never stops
MAX_PAGES = 1000


class ListingUnavailable(Exception):
    """The listing could not be read; the reason is the message."""


class S3FolderListing:
    """The keys of archive folders, listed once per folder and run (thread-safe: fetch threads share it).

    :meth:`exists` answers True / False for a file's path under the bucket, or None when the listing
    is unavailable (then the caller asks for the file itself). The first failure switches the listing
    off for the rest of the run, with one log line.
    """

    def __init__(self, client: httpx.Client, bucket_url: str) -> None:
        self.client = client
        self.bucket_url = bucket_url.rstrip("/")
        self._folders: dict[str, frozenset[str]] = {}
        self._subfolders: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()
        self.unavailable: str | None = None
        #: listing requests sent (pages)
        self.requests = 0

    def exists(self, rel_path: str) -> bool | None:
        folder = rel_path.rsplit("/", 1)[0] + "/"
        with self._lock:  # one listing per folder even when fetch threads ask at once
            if self.unavailable is not None:
                return None
            keys = self._folders.get(folder)
            if keys is None:
                try:
                    keys = self._folders[folder] = self._list(folder)
                except ListingUnavailable as exc:
                    self.unavailable = str(exc)
                    # unreachable: the files' own requests fail next and say so, one line is enough
                    log = logger.info if isinstance(exc.__cause__, httpx.HTTPError) else logger.warning
                    log(f"the archive listing at {self.bucket_url} is unavailable ({exc}): asking for each "
                        "file instead")
                    return None
        return rel_path in keys

    def subfolders(self, prefix: str) -> frozenset[str] | None:
        """The names of the folders directly under ``prefix`` (S3's ``CommonPrefixes``), e.g. every symbol
        of ``data/spot/daily/trades/``; None when the listing is unavailable."""
        with self._lock:
            if self.unavailable is not None:
                return None
            if prefix not in self._subfolders:
                try:
                    self._folders[prefix] = self._list(prefix)
                except ListingUnavailable:
                    return None  # only a hint is lost; the files themselves were listed or asked for
        return self._subfolders.get(prefix)

    def _list(self, prefix: str) -> frozenset[str]:
        keys: set[str] = set()
        folders: set[str] = set()
        marker = ""
        for _ in range(MAX_PAGES):
            params = {"delimiter": "/", "prefix": prefix, **({"marker": marker} if marker else {})}
            self.requests += 1
            try:
                response = self.client.get(self.bucket_url, params=params)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                raise ListingUnavailable(f"{type(exc).__name__}") from exc
            if response.status_code != 200:
                raise ListingUnavailable(f"HTTP {response.status_code}")
            page, truncated, next_marker = parse_list_bucket_result(response.content, prefix)
            keys.update(page)
            folders.update(common_prefixes(response.content, prefix))
            if not truncated:
                self._subfolders[prefix] = frozenset(folders)
                return frozenset(keys)
            if not next_marker or next_marker <= marker:
                raise ListingUnavailable("a truncated page without a marker to go on from")
            marker = next_marker
        raise ListingUnavailable(f"more than {MAX_PAGES} pages")


def parse_list_bucket_result(body: bytes, prefix: str) -> tuple[list[str], bool, str]:
    """(keys, is truncated, marker for the next page) of one ListBucketResult page of ``prefix``.
    Raises :class:`ListingUnavailable` for anything that is not such a page."""
    try:
        root = ET.fromstring(body)  # expat refuses entity bombs; no external entities
    except ET.ParseError as exc:
        raise ListingUnavailable(f"not XML: {exc}") from exc
    namespace = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    if root.tag != f"{namespace}ListBucketResult":
        raise ListingUnavailable(f"not a ListBucketResult but <{root.tag.removeprefix(namespace)}>")
    if (root.findtext(f"{namespace}Prefix") or "") != prefix:
        raise ListingUnavailable(f"a listing of another prefix than {prefix}")
    truncated_text = (root.findtext(f"{namespace}IsTruncated") or "").strip().lower()
    if truncated_text not in ("true", "false"):
        raise ListingUnavailable("no IsTruncated")
    keys = []
    for contents in root.iter(f"{namespace}Contents"):
        key = contents.findtext(f"{namespace}Key")
        if not key or not key.startswith(prefix):
            raise ListingUnavailable("a Contents entry without a key under the prefix")
        keys.append(key)
    rolled = [p.findtext(f"{namespace}Prefix") or "" for p in root.iter(f"{namespace}CommonPrefixes")]
    truncated = truncated_text == "true"
    next_marker = root.findtext(f"{namespace}NextMarker") or max([*keys, *rolled], default="")
    return keys, truncated, next_marker


def common_prefixes(body: bytes, prefix: str) -> list[str]:
    """The names of the folders a ListBucketResult page (already checked by
    :func:`parse_list_bucket_result`) rolls up under ``prefix``: ``BTCUSDT`` for ``…/trades/BTCUSDT/``."""
    root = ET.fromstring(body)
    namespace = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    names = []
    for entry in root.iter(f"{namespace}CommonPrefixes"):
        rolled = entry.findtext(f"{namespace}Prefix") or ""
        if rolled.startswith(prefix) and rolled.endswith("/"):
            names.append(rolled[len(prefix):-1])
    return names

