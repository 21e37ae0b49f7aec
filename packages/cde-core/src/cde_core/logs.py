"""Logging set up once for the process (loguru): one sink on stderr, per-module levels, optional JSON."""

from __future__ import annotations

import sys
import threading

from loguru import logger

from cde_core.config import LoggingConfig

_configured_lock = threading.Lock()
_configured = False


def setup_logging(config: LoggingConfig | None = None, *, debug: bool = False, force: bool = False) -> None:
    """Install the stderr sink. Later calls are ignored unless ``force`` (e.g. after loading config)."""
    global _configured
    config = config or LoggingConfig()
    with _configured_lock:
        if _configured and not force:
            return
        default_level = "DEBUG" if debug else config.level
        levels: dict[str | None, str | int | bool] = {"": default_level}
        levels.update({module: level.upper() for module, level in config.levels.items()})
        logger.remove()
        logger.add(sys.stderr, level="TRACE", serialize=config.json_lines, filter=levels,
                   backtrace=debug, diagnose=debug)
        _configured = True
