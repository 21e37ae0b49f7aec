"""The one guard every name that becomes a lake path goes through, and the containment check on
every file read back out of the lake.

A name a caller sends — in a URL, a query or a JSON body — becomes a folder of the lake
(``spec=<bars>``, ``symbol=<symbol>``, ``runs/<run id>``). Two fences, one rule:

- in request models, declare such a field :data:`LakeName` (or ``list[LakeName]``): the OpenAPI
  schema carries :data:`SAFE_VALUE_PATTERN` and a length cap, and the API answers 422 before any
  code runs (``tests/test_api_path_fields.py`` walks every route of every installed plugin and
  fails on a string field that is neither guarded nor declared not-a-path);
- where the path is built, :func:`safe_value` checks the value again (``Lake.hive_dir`` & co.).

A file the API serves is opened through :func:`inside`, which resolves symlinks and refuses a
target outside the lake, so a link planted in the lake cannot serve ``/etc/passwd``. Messages that
leave the server name lake paths relative to the lake (:func:`lake_relative`): a client learns
nothing of the server's file system.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, StringConstraints

from cde_core.errors import DataError

if TYPE_CHECKING:
    from cde_core.lake_location import LakePath

# \Z, not $: Python's $ also matches before a trailing newline, so "run\n" would pass
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*\Z")
#: :func:`safe_value`'s rule as one JSON-schema regex, for API path and query parameters: the OpenAPI
#: schema then says exactly which names a route accepts (FastAPI answers 422 before the route runs,
#: and fuzzers generate only names the code takes). Starts with a letter or digit; letters, digits,
#: '.', '_', '-'; never two dots in a row. No look-arounds, so pydantic's Rust regex (what FastAPI
#: validates with) and JSON Schema's ECMA regex both read it, with ``$`` as the end of the text.
SAFE_VALUE_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9_-]|\.[A-Za-z0-9_-])*\.?$"
#: longest name the lake takes: a folder name is at most 255 bytes and the lake adds ``spec=`` or
#: ``<feature set>__`` around it, so a longer name would only fail later as "File name too long"
MAX_NAME_LENGTH = 200
#: where the lake root stands in messages that leave the server
LAKE_PLACEHOLDER = "<lake>"


def safe_value(value: str, *, what: str) -> str:
    """Reject partition values that could escape the lake (``..``, ``/``) or break hive parsing."""
    if not _SAFE_VALUE.match(value) or ".." in value:
        raise DataError(f"invalid {what} '{value}'", hint="use letters, digits, '.', '_' or '-' only")
    if len(value) > MAX_NAME_LENGTH:
        raise DataError(f"{what} is {len(value)} characters long", where=value[:40] + "…",
                        hint=f"use at most {MAX_NAME_LENGTH} characters")
    return value


def _checked(value: str) -> str:
    return safe_value(value, what="name")


#: a request-model field whose value becomes a folder of the lake (see the module docstring)
LakeName = Annotated[str, StringConstraints(pattern=SAFE_VALUE_PATTERN, max_length=MAX_NAME_LENGTH),
                     AfterValidator(_checked)]


def inside(root: LakePath, candidate: LakePath) -> LakePath:
    """``candidate`` with symlinks resolved, if it stays under ``root`` (resolved too); DataError
    naming the lake-relative path otherwise."""
    resolved_root = root.resolve()
    resolved = candidate.resolve()
    if resolved != resolved_root and resolved_root not in resolved.parents:
        raise DataError("path leaves the lake", where=relative_name(root, candidate),
                        hint="a symlink in the lake points outside it; remove it")
    return resolved


def relative_name(root: LakePath, path: LakePath) -> str:
    """``path`` as ``<lake>/…`` when it lies under ``root`` (as written), else its last part only."""
    try:
        return f"{LAKE_PLACEHOLDER}/{path.relative_to(root).as_posix()}"  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return path.name


def lake_relative(text: str, root: LakePath) -> str:
    """``text`` with every spelling of the lake root (as configured, absolute, resolved) replaced by
    ``<lake>``: error messages, problem bodies and task errors go to clients this way."""
    spellings = {str(root), str(root.absolute()), str(root.resolve())}
    for spelling in sorted((s for s in spellings if s not in ("", ".", "/")), key=len, reverse=True):
        text = text.replace(spelling, LAKE_PLACEHOLDER)
    key = getattr(root, "key", None)  # a bucket lake: pyarrow's own messages name objects "bucket/key…"
    if isinstance(key, str):
        text = text.replace(f"{key}/", f"{LAKE_PLACEHOLDER}/")
    return text
