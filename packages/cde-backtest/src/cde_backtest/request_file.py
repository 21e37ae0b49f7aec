"""Build a :class:`BacktestRequest` from a YAML file plus ``key=value`` overrides (CLI, sweeps)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cde_backtest.models import BacktestRequest
from cde_core.errors import ConfigError, first_validation_problem
from cde_core.yaml_text import flag_value, load_yaml


def read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError("file not found", where=str(path), hint="check the path")
    data = load_yaml(path.read_text(), str(path)) or {}
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping at the top level", where=str(path))
    return data


def set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    node = tree
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"'{part}' is not a mapping", where=dotted)
    node[parts[-1]] = value


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["engine.costs.taker_bp=4", "params.n_long=2"]`` → dotted keys with YAML-parsed values."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"bad override '{item}'", where="--set", hint="write key=value, e.g. params.n_long=2")
        out[key.strip()] = flag_value(raw) if raw.strip() else ""
    return out


def build_request(data: dict[str, Any], overrides: dict[str, Any] | None = None, *,
                  where: str = "backtest config") -> BacktestRequest:
    tree = dict(data)
    for key, value in (overrides or {}).items():
        set_dotted(tree, key, value)
    try:
        return BacktestRequest.model_validate(tree)
    except ValidationError as exc:
        key, message = first_validation_problem(exc, root="(root)")
        raise ConfigError(f"bad value for '{key}': {message}", where=where,
                          hint="fields: " + ", ".join(BacktestRequest.model_fields)) from None
