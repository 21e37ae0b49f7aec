"""The lake on an S3-compatible object store: :class:`ObjectPath`, a ``pathlib``-shaped handle on a key.

Stage code addresses the lake with ``pathlib.Path`` operations (``/``, ``glob``, ``exists``,
``read_bytes`` …). An :class:`ObjectPath` offers the same operations on a bucket through
``pyarrow.fs.S3FileSystem`` — the client pyarrow itself reads Parquet with (range requests,
read-ahead) — so one code path serves a folder and a bucket, and a local lake keeps plain ``Path``
objects at full speed. It has no ``__fspath__``: code that would hand it to ``open()`` or ``os``
fails loudly instead of writing a local folder called ``s3:``.

Differences from a file system that matter to the lake:

- no folders: a "directory" exists while a key lies under its prefix; ``mkdir`` does nothing;
- no rename: :func:`cde_core.atomic.atomic_path` writes a hidden temporary key and copies it to its
  final key server-side — an object appears whole or not at all, so the final key *is* the commit;
- no symlinks: :meth:`resolve` is the path itself.

Endpoint, region and credentials come from the standard AWS environment and files
(``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` for S3-compatible stores such as MinIO, Ceph or R2,
``AWS_REGION`` / ``AWS_DEFAULT_REGION``, ``AWS_ACCESS_KEY_ID`` …, ``~/.aws/credentials``, instance
roles): a job shipped to a Dask worker carries only the URL and the worker's environment supplies
the rest.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from cde_core.errors import CdeError, ConfigError, RemoteError

if TYPE_CHECKING:
    import pyarrow.fs as pafs

#: the URL schemes a data root may use; anything else with ``://`` is refused by name
OBJECT_SCHEMES = ("s3",)
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<rest>.*)\Z")


def is_url(value: str) -> bool:
    """True when ``value`` is written as ``scheme://…`` (an object-store location, not a folder)."""
    return _URL.match(value) is not None


def endpoint_from_environment() -> str | None:
    """The S3 endpoint override of the standard AWS variables (service-specific one first)."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def region_from_environment() -> str | None:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


@functools.lru_cache(maxsize=8)
def _s3_filesystem(endpoint: str | None, region: str | None, key_id: str | None) -> pafs.S3FileSystem:
    # cached per (endpoint, region, key id): one client — and one connection pool — per store and
    # identity in a process; the key id is part of the key so a changed identity gets a new client
    import pyarrow.fs as pafs

    options: dict[str, Any] = {"allow_bucket_creation": False, "allow_bucket_deletion": False,
                               "check_directory_existence_before_creation": False}
    if endpoint:
        options["endpoint_override"] = endpoint
        options["scheme"] = "https" if endpoint.startswith("https://") else "http"
    if region:
        options["region"] = region
    return pafs.S3FileSystem(**options)


def s3_filesystem() -> pafs.S3FileSystem:
    """The S3 client for the current AWS environment (endpoint, region, credentials)."""
    return _s3_filesystem(endpoint_from_environment(), region_from_environment(),
                          os.environ.get("AWS_ACCESS_KEY_ID"))


def parse_object_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` → (``s3``, ``bucket/prefix``); ConfigError for anything else."""
    match = _URL.match(url)
    if match is None:
        raise ConfigError(f"'{url}' is not an object-store URL", hint="write it as s3://bucket/prefix")
    scheme, rest = match["scheme"].lower(), match["rest"].strip("/")
    if scheme not in OBJECT_SCHEMES:
        raise ConfigError(f"data root scheme '{scheme}://' is not supported",
                          where=url, hint="use a local folder or s3://bucket/prefix (S3 or an S3-compatible store)")
    if not rest or rest.split("/", 1)[0] in ("", ".", ".."):
        raise ConfigError(f"'{url}' names no bucket", hint="write it as s3://bucket/prefix")
    if any(part in (".", "..") for part in rest.split("/")):
        raise ConfigError(f"'{url}' has a '.' or '..' part", hint="write the prefix without them")
    if "?" in rest or "#" in rest:  # pyarrow's and fsspec's URI options (?endpoint_override=…) are not read
        raise ConfigError(f"'{url}' has a query or fragment ('?' / '#')",
                          hint="write s3://bucket/prefix only; the endpoint, region and credentials come from "
                               "AWS_ENDPOINT_URL, AWS_REGION and the AWS credentials")
    bucket = rest.split("/", 1)[0]
    if not _BUCKET_NAME.match(bucket):
        raise ConfigError(f"'{bucket}' is not a valid bucket name", where=url,
                          hint="a bucket name is 3–63 lowercase letters, digits, '.' and '-' (older buckets "
                               "may also hold capitals and '_'), starting and ending with a letter or digit")
    if any(part != part.strip() for part in rest.split("/")):  # "s3://b/lake " would be another prefix
        raise ConfigError(f"'{url}' has a space at the start or end of a part of its prefix", hint="remove it")
    return scheme, "/".join(part for part in rest.split("/") if part)


#: S3's bucket names as far back as they go: today's rule is 3–63 of ``a-z0-9.-`` (MinIO and R2 apply
#: it), but buckets made in us-east-1 before March 2018 (and Ceph with relaxed names) may hold capitals
#: and ``_`` and run to 255 characters; refusing those would lock their owners out. Anything else
#: (spaces, ``*``, a name of 1–2 characters) can name no bucket, so it is a typo
_BUCKET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{1,253}[A-Za-z0-9]\Z")


def bucket_names() -> list[str]:
    """The buckets the current credentials may list; none when listing them is not allowed."""
    import pyarrow.fs as pafs

    try:
        return [info.base_name for info in s3_filesystem().get_file_info(pafs.FileSelector(""))]
    except OSError:
        return []


@dataclass(frozen=True)
class ObjectStat:
    """The part of ``os.stat_result`` lake code reads."""

    st_size: int
    st_mtime: float


class ObjectPath:
    """A key (or key prefix) in a bucket, with the ``pathlib.Path`` operations the lake uses."""

    __slots__ = ("_key", "_scheme")

    def __init__(self, url: str) -> None:
        self._scheme, self._key = parse_object_url(url)

    @classmethod
    def _make(cls, scheme: str, key: str) -> ObjectPath:
        path = object.__new__(cls)
        path._scheme, path._key = scheme, key
        return path

    # -- identity --------------------------------------------------------------------------------
    @property
    def fs(self) -> pafs.FileSystem:
        """The pyarrow file system to pass as ``filesystem=`` together with :attr:`key`."""
        return s3_filesystem()

    @property
    def key(self) -> str:
        """``bucket/key`` — what pyarrow's file system takes as a path."""
        return self._key

    @property
    def bucket(self) -> str:
        return self._key.split("/", 1)[0]

    def __str__(self) -> str:
        return f"{self._scheme}://{self._key}"

    def __repr__(self) -> str:
        return f"ObjectPath({str(self)!r})"

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        # a pickled path (a Dask job) is its URL: the worker builds its own client from its environment
        return (ObjectPath, (str(self),))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectPath) and (self._scheme, self._key) == (other._scheme, other._key)

    def __hash__(self) -> int:
        return hash((self._scheme, self._key))

    def __lt__(self, other: ObjectPath) -> bool:
        return self._key < other._key

    def as_posix(self) -> str:
        return str(self)

    # -- pure path operations ---------------------------------------------------------------------
    def __truediv__(self, other: str | os.PathLike[str]) -> ObjectPath:
        extra = os.fspath(other).strip("/")
        if not extra:
            return self
        parts = extra.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"'{extra}' is not a plain relative key under {self}")
        return ObjectPath._make(self._scheme, f"{self._key}/{extra}")

    def joinpath(self, *others: str) -> ObjectPath:
        path = self
        for other in others:
            path = path / other
        return path

    @property
    def name(self) -> str:
        return self._key.rsplit("/", 1)[-1]

    @property
    def suffix(self) -> str:
        name = self.name
        dot = name.rfind(".")
        return name[dot:] if 0 < dot < len(name) - 1 else ""

    @property
    def stem(self) -> str:
        suffix = self.suffix
        return self.name[: -len(suffix)] if suffix else self.name

    @property
    def parent(self) -> ObjectPath:
        head = self._key.rsplit("/", 1)[0] if "/" in self._key else self._key
        return ObjectPath._make(self._scheme, head)

    @property
    def parents(self) -> list[ObjectPath]:
        found, path = [], self
        while "/" in path._key:
            path = path.parent
            found.append(path)
        return found

    @property
    def parts(self) -> tuple[str, ...]:
        return (f"{self._scheme}://", *self._key.split("/"))

    def with_name(self, name: str) -> ObjectPath:
        return self.parent / name

    def with_suffix(self, suffix: str) -> ObjectPath:
        return self.parent / (self.stem + suffix)

    def relative_to(self, other: ObjectPath) -> _RelativeKey:
        if not isinstance(other, ObjectPath) or other._scheme != self._scheme:
            raise ValueError(f"{self} is not under {other}")
        if self._key == other._key:
            return _RelativeKey("")
        if not self._key.startswith(other._key + "/"):
            raise ValueError(f"{self} is not under {other}")
        return _RelativeKey(self._key[len(other._key) + 1:])

    def is_relative_to(self, other: ObjectPath) -> bool:
        try:
            self.relative_to(other)
        except ValueError:
            return False
        return True

    def resolve(self, strict: bool = False) -> ObjectPath:
        """No symlinks in a bucket: the path itself."""
        return self

    def absolute(self) -> ObjectPath:
        return self

    def expanduser(self) -> ObjectPath:
        return self

    # -- queries ----------------------------------------------------------------------------------
    def _info(self) -> pafs.FileInfo:
        return self.fs.get_file_info(self._key)

    def exists(self) -> bool:
        import pyarrow.fs as pafs

        return self._info().type != pafs.FileType.NotFound

    def is_file(self) -> bool:
        import pyarrow.fs as pafs

        return self._info().type == pafs.FileType.File

    def is_dir(self) -> bool:
        import pyarrow.fs as pafs

        return self._info().type == pafs.FileType.Directory

    def is_symlink(self) -> bool:
        return False

    def stat(self) -> ObjectStat:
        import pyarrow.fs as pafs

        info = self._info()
        if info.type == pafs.FileType.NotFound:
            raise FileNotFoundError(str(self))
        mtime = info.mtime.timestamp() if info.mtime is not None else time.time()
        return ObjectStat(st_size=int(info.size or 0), st_mtime=mtime)

    def _listing(self, *, recursive: bool) -> list[pafs.FileInfo]:
        import pyarrow.fs as pafs

        return self.fs.get_file_info(pafs.FileSelector(self._key, allow_not_found=True, recursive=recursive))

    def iterdir(self) -> Iterator[ObjectPath]:
        for info in sorted(self._listing(recursive=False), key=lambda i: i.path):
            yield ObjectPath._make(self._scheme, info.path.rstrip("/"))

    def glob(self, pattern: str) -> Iterator[ObjectPath]:
        """``pathlib``'s glob: ``*``/``?``/``[…]`` within one level, ``**`` for any depth."""
        parts = [p for p in pattern.split("/") if p]
        if "**" in parts:
            for info in sorted(self._listing(recursive=True), key=lambda i: i.path):
                if _components_match(info.path[len(self._key) + 1:].split("/"), parts):
                    yield ObjectPath._make(self._scheme, info.path.rstrip("/"))
            return
        level: list[ObjectPath] = [self]
        for part in parts:
            level = [child for folder in level for child in folder.iterdir() if fnmatch.fnmatchcase(child.name, part)]
        yield from sorted(level)

    def rglob(self, pattern: str) -> Iterator[ObjectPath]:
        return self.glob(f"**/{pattern}")

    def walk_files(self) -> Iterator[tuple[ObjectPath, int]]:
        """Every object under this prefix with its size, in one recursive listing."""
        for path, stat in self.walk_stats():
            yield path, stat.st_size

    def walk_stats(self) -> Iterator[tuple[ObjectPath, ObjectStat]]:
        """Every object under this prefix with its size and modification time, from one listing."""
        import pyarrow.fs as pafs

        for info in sorted(self._listing(recursive=True), key=lambda i: i.path):
            if info.type == pafs.FileType.File:
                mtime = info.mtime.timestamp() if info.mtime is not None else time.time()
                yield ObjectPath._make(self._scheme, info.path), ObjectStat(int(info.size or 0), mtime)

    # -- reads and writes -------------------------------------------------------------------------
    def read_bytes(self) -> bytes:
        with self.fs.open_input_stream(self._key) as stream:
            return bytes(stream.read())

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def write_bytes(self, data: bytes) -> int:
        """One PUT of the whole content: the object appears complete or not at all."""
        with self.fs.open_output_stream(self._key) as stream:
            stream.write(data)
        return len(data)

    def write_text(self, text: str, encoding: str = "utf-8") -> int:
        return self.write_bytes(text.encode(encoding))

    def open(self, mode: str = "rb", encoding: str | None = None) -> IO[Any]:
        """Read-only (``rb`` / ``r``): writes go through :func:`cde_core.atomic.atomic_path`."""
        if mode not in ("r", "rb"):
            raise ValueError(f"{self}: objects are written whole through atomic_path, not opened with '{mode}'")
        handle = self.fs.open_input_file(self._key)
        if mode == "rb":
            return handle  # type: ignore[return-value]
        import io

        return io.TextIOWrapper(handle, encoding=encoding or "utf-8")  # type: ignore[arg-type]

    def unlink(self, missing_ok: bool = False) -> None:
        try:
            self.fs.delete_file(self._key)
        except FileNotFoundError:
            if not missing_ok:
                raise
        except OSError as exc:
            if not (missing_ok and "NotFound" in str(exc)):
                raise

    def mkdir(self, mode: int = 0o777, parents: bool = False, exist_ok: bool = False) -> None:
        """Nothing to do: a prefix exists once a key lies under it."""

    def rmdir(self) -> None:
        """Nothing to do: an empty prefix does not exist."""

    def remove_tree(self) -> None:
        """Delete every object under this prefix (the bucket's ``rm -r``)."""
        self.fs.delete_dir_contents(self._key, missing_dir_ok=True)

    def upload_from(self, local: os.PathLike[str] | str) -> None:
        """Copy a local file to this key (multipart for large files; visible only once complete)."""
        import pyarrow.fs as pafs

        pafs.copy_files(os.fspath(local), self._key, source_filesystem=pafs.LocalFileSystem(),
                        destination_filesystem=self.fs)

    def move_to(self, target: ObjectPath) -> None:
        """Server-side copy to ``target`` then delete this key: ``target`` appears whole at once."""
        self.fs.move(self._key, target._key)


class _RelativeKey(str):
    """What ``ObjectPath.relative_to`` returns: a key suffix with ``as_posix`` like ``PurePath``."""

    def as_posix(self) -> str:
        return str(self)

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(p for p in self.split("/") if p)


def _components_match(names: list[str], patterns: list[str]) -> bool:
    """Whether path components ``names`` match glob ``patterns`` (``**`` = zero or more components)."""
    if not patterns:
        return not names
    head, rest = patterns[0], patterns[1:]
    if head == "**":
        return any(_components_match(names[skip:], rest) for skip in range(len(names) + 1))
    return bool(names) and fnmatch.fnmatchcase(names[0], head) and _components_match(names[1:], rest)


#: failures of the store as a whole (not of one object): a wrapped one is reported as the store's
_STORE_WIDE_CODES = ("SERVICE_UNAVAILABLE", "SLOW_DOWN", "THROTTLING", "INTERNAL_FAILURE", "REQUEST_TIMEOUT",
                     "REQUEST_TIME_TOO_SKEWED")
_AWS_CODE = re.compile(r"AWS Error (?P<code>[A-Z_]+)")
_BUCKET = re.compile(r"bucket '(?P<bucket>[^']+)'")


def store_error(exc: BaseException) -> CdeError | None:
    """The one-line error for a failure of the object store (pyarrow's S3 client raises ``OSError`` with
    "AWS Error …" in its text), or None when ``exc`` is something else. The CLI, the API and the task
    manager report a store that cannot be reached, a missing bucket or refused credentials this way,
    never as an internal error with a traceback."""
    if not isinstance(exc, OSError) or "AWS Error" not in str(exc):
        return None
    return _classify(str(exc), generic=True)


def store_outage(exc: BaseException) -> CdeError | None:
    """The store's own failure behind ``exc`` — unreachable, bucket missing, credentials refused — or
    None. Unlike :func:`store_error` it also looks through a cde error that wrapped the client's
    ``OSError`` (a stage reporting "unreadable partition …, re-download that day"): while the store is
    down every partition is "unreadable", and the user must learn that the store is down, not be told
    to delete or re-download good data. The wrapped text is searched because a ``__cause__`` does not
    survive a process executor's pickling. Other failures of one object (a missing key, a corrupt
    file) stay what they were."""
    if isinstance(exc, RemoteError):
        return None
    seen: BaseException | None = exc
    while seen is not None:
        text = str(seen)
        if isinstance(seen, OSError | CdeError) and "AWS Error" in text:
            found = _classify(text, generic=False)
            if found is not None:
                return found
        seen = seen.__cause__
    return None


def _classify(text: str, *, generic: bool) -> CdeError | None:
    code_match, bucket_match = _AWS_CODE.search(text), _BUCKET.search(text)
    code = code_match["code"] if code_match else "UNKNOWN"
    bucket = bucket_match["bucket"] if bucket_match else "?"
    endpoint = endpoint_from_environment() or "AWS S3 (no AWS_ENDPOINT_URL set)"
    where = f"bucket {bucket}, endpoint {endpoint}" if bucket_match else f"endpoint {endpoint}"
    if code == "NETWORK_CONNECTION" or (code == "UNKNOWN" and ("resolve" in text or "connect" in text.lower())):
        return RemoteError("cannot reach the object store", where=where,
                           hint="check AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3) and that the store is up")
    if code in ("NO_SUCH_BUCKET", "RESOURCE_NOT_FOUND") or "NoSuchBucket" in text:
        from cde_core.suggest import nearest

        close = nearest(bucket, bucket_names())  # the store answered, so it can list its buckets
        named = f"did you mean {' or '.join(close)}? Else " if close else ""
        return RemoteError(f"the bucket '{bucket}' does not exist", where=where,
                           hint=f"{named}create it, or fix the bucket name in data_root / CDE_DATA_ROOT")
    if code in ("ACCESS_DENIED", "INVALID_ACCESS_KEY_ID", "SIGNATURE_DOES_NOT_MATCH", "MISSING_AUTHENTICATION_TOKEN",
                "UNRECOGNIZED_CLIENT", "EXPIRED_TOKEN", "INVALID_CLIENT_TOKEN_ID") or "HTTP status 403" in text:
        return RemoteError(f"the object store refused the credentials ({code})", where=where,
                           hint="check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the "
                                "bucket's policy")
    if not generic and code not in _STORE_WIDE_CODES:
        return None
    first = (text.strip().splitlines() or [""])[0]
    return RemoteError(f"the object store failed: {first}", where=where,
                       hint="retry; if it persists check the store and the AWS settings")
