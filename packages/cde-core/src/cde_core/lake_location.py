"""Where a lake lives: a local folder (``pathlib.Path``) or a bucket prefix (:class:`ObjectPath`).

Everything that opens a lake takes its root through :func:`lake_location`, so ``data_root`` may be
``/data/lake`` or ``s3://bucket/lake`` for every stage. pyarrow readers and writers get their
``(path, filesystem)`` pair from :func:`arrow_target`; temporary files, zip caches and locks — which
need a real file system — live in :func:`local_work_dir`.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

from cde_core.errors import CdeError, ConfigError
from cde_core.object_store import OBJECT_SCHEMES, ObjectPath, is_url

if TYPE_CHECKING:
    import pyarrow.fs as pafs

#: a lake root or a path inside a lake
LakePath: TypeAlias = Path | ObjectPath


def lake_location(value: str | os.PathLike[str] | ObjectPath) -> LakePath:
    """``s3://bucket/prefix`` → :class:`ObjectPath`; anything else → ``Path`` (``~`` expanded)."""
    if isinstance(value, ObjectPath):
        return value
    text = os.fspath(value)
    if text != text.strip() and (is_url(text.strip()) or _MISSING_SLASH.match(text.strip())):
        # " s3://b/lake" would otherwise be a local folder " s3:"
        raise ConfigError(f"'{text}' has a space before or after the URL", hint="remove it")
    if is_url(text):
        return ObjectPath(text)
    slip = _MISSING_SLASH.match(text)
    # `s3:/bucket/lake` would otherwise be a local folder named "s3:" — silently
    if slip is not None and (slip["rest"].startswith("/") or slip["scheme"].lower() in OBJECT_SCHEMES):
        raise ConfigError(f"'{text}' looks like an object-store URL with a '/' missing",
                          hint=f"write {slip['scheme']}://{slip['rest'].lstrip('/')} (or ./{text} for a local folder)")
    return Path(text).expanduser()


#: ``s3:/b/p``, ``s3:b/p``, ``https:/host/x``: a scheme (two letters or more, so ``C:/`` stays a path)
#: and a colon without the two slashes of a URL (refused when a ``/`` follows or the scheme is ``s3``)
_MISSING_SLASH = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]+):(?!//)(?P<rest>.*)\Z", re.DOTALL)


def lake_root(value: str | os.PathLike[str] | ObjectPath) -> LakePath:
    """A lake root as :func:`lake_location` reads it, a local folder made absolute against the current
    directory *here*. Jobs receive the root, not the data, and run elsewhere: in a process pool, or on a
    Dask worker whose working directory is another folder (or another machine's) — a relative root
    would make them read an empty lake there ("no data", exit 0) or write into the wrong folder."""
    location = lake_location(value)
    return location.absolute() if isinstance(location, Path) else location


def is_object_path(path: LakePath) -> bool:
    return isinstance(path, ObjectPath)


def arrow_target(path: LakePath) -> tuple[str, pafs.FileSystem | None]:
    """``(path, filesystem)`` for pyarrow's ``pq`` / ``ds`` functions: local paths go as they are
    (``filesystem=None`` keeps pyarrow's fast local path, memory maps included)."""
    if isinstance(path, ObjectPath):
        return path.key, path.fs
    return str(path), None


def local_work_dir(root: LakePath) -> Path:
    """A local folder that belongs to the lake at ``root``: ``<root>/.cache`` for a local lake; for a
    bucket, ``$CDE_CACHE_DIR`` or the user cache folder, one sub-folder per bucket prefix — zips,
    locks and temporary files need a real file system, and each machine keeps its own."""
    if isinstance(root, Path):
        return root / ".cache"
    base = Path(os.environ.get("CDE_CACHE_DIR") or _user_cache_dir()).expanduser()
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    return base / "object-lakes" / f"{root.bucket}-{digest}"


def _user_cache_dir() -> str:
    from platformdirs import user_cache_dir

    return user_cache_dir("cde", appauthor=False)


def _validate_location(value: Any) -> LakePath:
    if isinstance(value, Path | ObjectPath | str):
        try:
            return lake_root(value)
        except CdeError as exc:  # pydantic reports ValueErrors with the field's name and origin
            raise ValueError(exc.one_line()) from None
    raise ValueError("expected a folder or an s3://bucket/prefix URL")


#: a config or request field holding a lake root: a folder (made absolute, see :func:`lake_root`) or
#: ``s3://bucket/prefix``
LakeRootField = Annotated[LakePath, PlainValidator(_validate_location), PlainSerializer(str, return_type=str),
                          WithJsonSchema({"type": "string", "description": "a folder or s3://bucket/prefix"})]
