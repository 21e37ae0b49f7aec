"""Running a plugin's own code while the host loads it, without letting it take the host down.

The host runs plugin code at three moments: importing the entry point, calling its registry hooks and
calling ``register_commands`` / ``register_routes``. In each, :func:`plugin_code` keeps what the plugin
does from reaching the rest of the process:

- anything it raises, ``SystemExit`` and other ``BaseException`` subclasses included, is caught by the
  caller (:data:`PLUGIN_ESCAPES`) and makes the plugin broken instead of ending every ``cde`` command;
- what it prints goes to stderr, so ``--json`` output on stdout stays parseable;
- a third-party plugin's changes to process-wide state that change built-in results are undone and
  reported: numpy's floating-point error handling, warnings filters with the action ``error``
  (``simplefilter("error")`` turns a built-in's harmless warning into a failure; the ``ignore``
  filters libraries add when imported stay) and ``CDE_*`` environment variables (which choose the
  lake, the config and the plugins).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any, TextIO

#: what plugin code may raise while loading; all of it means "this plugin is broken"
PLUGIN_ESCAPES = (BaseException,)

_NUMPY_DEFAULT_ERR = {"divide": "warn", "over": "warn", "under": "ignore", "invalid": "warn"}


@contextlib.contextmanager
def plugin_code(*, third_party: bool, changes: list[str] | None = None) -> Iterator[None]:
    """Run plugin code with stdout sent to stderr; for a third party, undo its changes to the state
    listed in the module doc and append one line per undone change to ``changes``."""
    numpy = sys.modules.get("numpy")
    err_before = dict(numpy.geterr()) if numpy is not None else dict(_NUMPY_DEFAULT_ERR)
    env_before = {k: v for k, v in os.environ.items() if k.startswith("CDE_")}
    filters_before = list(warnings.filters)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if third_party:
            undone = _restore(err_before, env_before, filters_before)
            if changes is not None:
                changes += undone


def _restore(err_before: dict[str, str], env_before: dict[str, str], filters_before: list[Any]) -> list[str]:
    undone: list[str] = []
    numpy = sys.modules.get("numpy")
    if numpy is not None and dict(numpy.geterr()) != err_before:
        numpy.seterr(**err_before)
        undone.append("numpy error handling (numpy.seterr) change undone")
    errors = [f for f in warnings.filters if f[0] == "error" and f not in filters_before]
    if errors:  # libraries add "ignore" filters on import; only "error" makes a built-in's warning fail it
        warnings.filters[:] = [f for f in warnings.filters if f not in errors]  # type: ignore[index]
        warnings._filters_mutated()  # type: ignore[attr-defined]  # the module's own cache of the filters
        undone.append("warnings filter 'error' undone")
    env_now = {k: v for k, v in os.environ.items() if k.startswith("CDE_")}
    for key in sorted(set(env_before) | set(env_now)):
        if env_before.get(key) != env_now.get(key):
            if key in env_before:
                os.environ[key] = env_before[key]
            else:
                del os.environ[key]
            undone.append(f"environment variable {key} change undone")
    return undone


class PluginPrintsToStderr(io.TextIOBase):
    """``sys.stdout`` while a command prints JSON: what a third-party plugin's code prints (a debug
    ``print`` in its ``columns`` or ``compute``) goes to stderr, so the JSON on stdout stays valid;
    cde's own output passes through. A write is the plugin's when one of the calling frames runs a
    file of a third-party plugin module (:func:`cde_core.plugin_faults.third_party_roots`)."""

    def __init__(self, stdout: TextIO, stderr: TextIO) -> None:
        self._stdout, self._stderr = stdout, stderr

    def _target(self) -> TextIO:
        from cde_core.plugin_faults import third_party_roots
        from cde_core.plugins import get_plugins

        roots = tuple(root for root, _info in third_party_roots(get_plugins()))
        frame = sys._getframe(2)
        while roots and frame is not None:
            name = frame.f_code.co_filename
            if any(name == root or name.startswith(root + os.sep) for root in roots):
                return self._stderr
            frame = frame.f_back  # type: ignore[assignment]
        return self._stdout

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._stdout.flush()
        self._stderr.flush()

    def isatty(self) -> bool:
        return self._stdout.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._stdout.encoding


@contextlib.contextmanager
def plugin_prints_to_stderr(enabled: bool = True) -> Iterator[None]:
    """Install :class:`PluginPrintsToStderr` as ``sys.stdout`` for the duration (when ``enabled``)."""
    if not enabled:
        yield
        return
    previous = sys.stdout
    sys.stdout = PluginPrintsToStderr(previous, sys.stderr)
    try:
        yield
    finally:
        sys.stdout = previous


__all__ = ["PLUGIN_ESCAPES", "PluginPrintsToStderr", "plugin_code", "plugin_prints_to_stderr"]
