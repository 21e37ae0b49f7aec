"""plotly.js once per lake and once per server, instead of inlined in every HTML file.

A page names its script with :class:`PlotlyScript`: ``inline`` (one self-contained file, for
mailing), a URL relative to the page (``../../assets/plotly-<version>.min.js`` for a run report in
the lake) or the server's route (``/visual/assets/plotly-<version>.min.js``). The file name carries
plotly's version, so a cached or shared copy never serves a page built by another version.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cde_core.atomic import atomic_write_bytes
from cde_core.lake_location import LakePath, lake_location
from cde_core.object_store import ObjectPath

ASSET_FOLDER = "assets"
SERVER_ASSET_PREFIX = "/visual/assets/"


def plotly_version() -> str:
    import plotly

    return str(plotly.__version__)


def asset_name() -> str:
    """File name of the plotly.js bundle shipped by the installed plotly (versioned)."""
    return f"plotly-{plotly_version()}.min.js"


def plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


def ensure_asset(folder: LakePath) -> LakePath:
    """``folder/plotly-<version>.min.js``, written atomically unless an identical copy is there (in a
    bucket too: one HEAD per page when the lake's copy is already there)."""
    path = folder / asset_name()
    text = plotly_js().encode()
    if not path.exists() or path.stat().st_size != len(text):
        atomic_write_bytes(path, text)
    return path


def lake_asset(lake_root: LakePath | str) -> LakePath:
    """The lake's shared copy: ``<root>/assets/plotly-<version>.min.js`` (a folder or a bucket prefix)."""
    return ensure_asset(lake_location(lake_root) / ASSET_FOLDER)


@dataclass(frozen=True)
class PlotlyScript:
    """How a page loads plotly.js: inlined (``src`` None) or from ``src``."""

    src: str | None = None

    @classmethod
    def inline(cls) -> PlotlyScript:
        return cls(None)

    @classmethod
    def server(cls) -> PlotlyScript:
        return cls(SERVER_ASSET_PREFIX + asset_name())

    @classmethod
    def beside(cls, page: LakePath, lake_root: LakePath | None = None) -> PlotlyScript:
        """For an HTML file written at ``page``: the lake's asset when the page is inside the lake,
        else a copy next to the page; the script is referenced by a relative URL either way, so the
        folder can be moved or served as a whole. ``page`` and ``lake_root`` may be bucket keys."""
        if isinstance(page, ObjectPath):
            folder_key = page.parent
            if isinstance(lake_root, ObjectPath) and lake_root in page.parents:
                folder_key = lake_root / ASSET_FOLDER
            ensure_asset(folder_key)
            return cls(posixpath.relpath((folder_key / asset_name()).key, page.parent.key))
        page = Path(page).absolute()
        folder = page.parent
        if lake_root is not None and not isinstance(lake_root, ObjectPath):
            root = Path(lake_root).absolute()
            if root in page.parents:
                folder = root / ASSET_FOLDER
        ensure_asset(folder)
        return cls(Path(os.path.relpath(folder / asset_name(), page.parent)).as_posix())

    def tag(self) -> str:
        if self.src is None:
            return f'<script type="text/javascript">{plotly_js()}</script>'
        return f'<script src="{self.src}" charset="utf-8"></script>'


def add_asset_route(app: Any) -> None:
    """Serve the bundle at ``/visual/assets/plotly-<version>.min.js`` (once per app, whichever stage
    asks first). Browsers cannot send an API key with a ``<script>`` request, so the server lists
    the prefix as public: it holds plotly's code, no data."""
    if getattr(app.state, "plotly_asset_route", False):
        return
    from fastapi import APIRouter
    from fastapi.responses import Response

    from cde_core.errors import NotFoundError

    router = APIRouter(prefix=SERVER_ASSET_PREFIX.rstrip("/"), tags=["visual"])

    @router.get("/{name}", response_class=Response, response_model=None,
                responses={200: {"content": {"text/javascript": {}}, "description": "the plotly.js bundle"}})
    def plotly_asset(name: str) -> Any:
        """The plotly.js bundle every ``/visual`` page loads (immutable: the name carries the version)."""
        if name != asset_name():
            raise NotFoundError(f"no asset '{name}'", hint=f"the plotly bundle is {asset_name()}")
        return Response(plotly_js(), media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=31536000, immutable"})

    app.include_router(router)
    app.state.plotly_asset_route = True
