"""Read the YAML a user writes (config files, run files, feature-set files, ``key=value`` flags).

PyYAML reads anything shaped like a date as a date and raises a bare ``ValueError`` when the day does
not exist (``2024-02-30``); that escaped every caller's ``except yaml.YAMLError`` and surfaced as an
"internal error". Here such a value is a YAML error with its line like any other, so every caller has
one exception to handle and the user one line naming file, line and value.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError

from cde_core.errors import ConfigError


class _UserLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` whose impossible dates are :class:`yaml.YAMLError` with their position."""


def _timestamp(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)  # type: ignore[arg-type]
    except (ValueError, OverflowError) as exc:
        raise ConstructorError(None, None, f"'{node.value}' is not a valid date or time ({exc})",
                               node.start_mark) from None


_UserLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def parse_yaml(text: str) -> Any:
    """``yaml.safe_load`` that raises only :class:`yaml.YAMLError` (impossible dates included)."""
    return yaml.load(text, Loader=_UserLoader)  # a SafeLoader subclass: safe


def load_yaml(text: str, where: str, *, hint: str = "fix the YAML (quote a value to keep it as text)") -> Any:
    """The document in ``text``, or one :class:`ConfigError` naming ``where``, the line and the problem."""
    try:
        return parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        at = f"{where}, line {mark.line + 1}" if mark is not None else where
        raise ConfigError(f"not valid YAML: {problem}", where=at, hint=hint) from None


def flag_value(raw: str) -> Any:
    """A ``key=value`` flag's value read as a YAML scalar or flow collection (``21`` an int, ``0.5`` a
    float, ``[a, b]`` a list); text that is not valid YAML (``{``, ``2024-02-30``) stays the string
    given, so the field it sets names it in its own validation error."""
    if not raw.strip():
        return raw
    try:
        return parse_yaml(raw)
    except yaml.YAMLError:
        return raw
