"""Feature sets from YAML files and factor parameters from ``factor.key=value`` flags.

A feature-set file is the YAML form of :class:`cde_features.feature_set.FeatureSet`::

    name: my_momentum
    factors:
      - factor: ret_log
        params: {window: 24}
      - factor: rsi              # default parameters
      - factor: example_range_position
        params: {window: 48}
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from cde_core.errors import ConfigError, first_validation_problem
from cde_core.lake_location import LakePath
from cde_core.yaml_text import flag_value, load_yaml
from cde_features.feature_set import FeatureSet


def load_feature_set_file(path: LakePath) -> FeatureSet:
    """The feature set in ``path`` (a local file or an ``s3://`` object); a bad file is one
    :class:`ConfigError` naming file, line or key."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read feature-set file: {exc.strerror or exc}", where=str(path),
                          hint="pass an existing YAML file with `name` and `factors`") from None
    data = load_yaml(text, str(path))
    if not isinstance(data, dict):
        raise ConfigError("feature-set file must be a mapping with `name` and `factors`", where=str(path),
                          hint="see docs/features.md (feature-set files)")
    try:
        return FeatureSet.model_validate(data)
    except ValidationError as exc:
        key, message = first_validation_problem(exc, root="(file)")
        raise ConfigError(f"bad feature-set file: {key}: {message}", where=str(path),
                          hint="each entry is {factor: NAME, params: {...}}; see `cde features list`") from None


def parse_param_flags(flags: list[str]) -> dict[str, dict[str, Any]]:
    """``["rsi.window=21", "ma_cross.fast=12"]`` → ``{"rsi": {"window": 21}, "ma_cross": {"fast": 12}}``;
    values are read as YAML scalars (``21`` an int, ``0.5`` a float, ``true`` a bool, else a string)."""
    params: dict[str, dict[str, Any]] = {}
    for flag in flags:
        key, sep, raw = flag.partition("=")
        factor, dot, name = key.strip().partition(".")
        if not sep or not dot or not factor or not name:
            raise ConfigError(f"bad --param '{flag}'", where="--param",
                              hint="write FACTOR.PARAM=VALUE, e.g. --param rsi.window=21")
        value = flag_value(raw)
        params.setdefault(factor, {})[name] = value
    return params
