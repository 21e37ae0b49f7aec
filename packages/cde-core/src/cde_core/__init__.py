"""cde-core: the kernel every cde plugin builds on (hookspecs, registries, schemas, lake, config)."""

from importlib.metadata import PackageNotFoundError, version

from cde_core.errors import CdeError
from cde_core.markers import hookimpl, hookspec
from cde_core.plugins import get_plugins

try:
    __version__ = version("cde-core")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["CdeError", "__version__", "get_plugins", "hookimpl", "hookspec"]
