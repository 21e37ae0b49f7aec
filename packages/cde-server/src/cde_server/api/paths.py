"""Names that become paths in the lake (run ids, file names): validated in the schema and again on use.

A route that turns a request value into a file path declares it with :data:`RunIdPath` /
:data:`FileNamePath` (the OpenAPI schema then carries the pattern, and FastAPI answers 422 before
the route runs) and builds the path with :func:`run_file_path`, which re-checks every part with
:func:`cde_core.lake.safe_value` and refuses a result that resolves outside the run folder (a
symlink planted in the lake included). :class:`~cde_server.api.path_guard.PathTraversalGuard` is a
third fence in front of every route.

Plugin packages must not import cde_server (ARCHITECTURE.md): they declare their parameters with
the same :data:`cde_core.lake.SAFE_VALUE_PATTERN` (``safe_value``'s rule as a JSON-schema regex) and
use ``Lake.run_dir(run_id)`` / ``safe_value(name, what=...)`` from cde_core — see docs/server.md.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from cde_core.errors import NotFoundError
from cde_core.lake import SAFE_VALUE_PATTERN, Lake, safe_value
from cde_core.lake_location import LakePath

RunIdPath = Annotated[str, Path(description="run id", pattern=SAFE_VALUE_PATTERN, max_length=200)]
FileNamePath = Annotated[str, Path(description="file name inside the run folder", pattern=SAFE_VALUE_PATTERN,
                                   max_length=200)]


def run_file_path(lake: Lake, run_id: str, name: str) -> LakePath:
    """The path of file ``name`` in run ``run_id``; 422 on unsafe names, 404 if the run is missing."""
    folder = lake.run_dir(run_id)
    if not folder.is_dir():
        raise NotFoundError(f"no run '{run_id}'", hint="list runs with GET /runs")
    return lake.inside(folder / safe_value(name, what="file name"))
