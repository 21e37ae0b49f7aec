"""Configuration: pydantic models, layered defaults < YAML file < ``CDE_*`` environment < overrides.

Every layer is a nested dict; the merged dict is validated into :class:`CdeConfig`. The origin of
each leaf is kept so ``cde config show`` can say where every value came from. A section with a bad
value is validated where it is used: it becomes a :class:`BrokenSection` that raises the
:class:`ConfigError` (naming the YAML file and key) on first access, so a bad ``server.port`` stops
``cde serve`` but not ``cde lake ls``. An unknown key is an error at load, with the nearest names.

Environment variables: ``CDE_<SECTION>__<FIELD>`` (``CDE_SERVER__PORT=9000``), ``CDE_DATA_ROOT``,
plus the short aliases in :data:`ENV_ALIASES`. Values are parsed as YAML scalars/lists, so
``CDE_SERVER__API_KEYS='[a, b]'`` works.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any, Literal

import yaml
from platformdirs import user_data_dir
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, ValidationInfo, field_validator

from cde_core.errors import ConfigError, first_validation_problem
from cde_core.lake_location import LakeRootField
from cde_core.suggest import nearest
from cde_core.yaml_text import flag_value, load_yaml

CONFIG_FILE_ENV = "CDE_CONFIG"
DEFAULT_CONFIG_FILE = "cde.yaml"

#: short environment names users expect, mapped to their dotted config key
ENV_ALIASES: dict[str, str] = {
    "CDE_DATA_ROOT": "data_root",
    "CDE_TASK_STORE": "server.task_store",
    "CDE_EXECUTOR": "executor.name",
    "CDE_DASK_SCHEDULER": "executor.dask_scheduler",
    "CDE_API_KEYS": "server.api_keys",
    "CDE_LOG_LEVEL": "logging.level",
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class DownloadConfig(_Section):
    """Where archives come from and how hard to try. Base URLs are configuration so tests and the
    offline demo point the real download code at a local archive server."""

    binance_archive_url: str = Field("https://data.binance.vision", description="Binance public archive base URL")
    okx_archive_url: str = Field("https://static.okx.com", description="OKX public archive base URL")
    binance_api_url: str = Field("https://api.binance.com", description="Binance REST base URL (asset pool)")
    okx_api_url: str = Field("https://www.okx.com", description="OKX REST base URL (asset pool)")
    concurrency: int = Field(4, ge=1, le=64, description="files downloaded at once")
    timeout_s: float = Field(30.0, gt=0, description="connect/read timeout per request, seconds")
    file_deadline_s: float = Field(3600.0, gt=0, description="total time one file's download may take, all reads "
                                                             "together, seconds (a trickling server is cut off "
                                                             "and retried)")
    retries: int = Field(5, ge=0, le=20, description="retries on timeouts, 429 and 5xx")
    backoff_s: float = Field(0.5, ge=0, description="first back-off delay; doubles per retry, with jitter")
    max_span_days: int = Field(3700, ge=1, description="longest start..end range one download may ask for "
                               "(days); longer requests are refused before anything runs")


class ExecutorConfig(_Section):
    """Which registered executor runs heavy batches."""

    name: str = Field("local", description="registered executor name: local or dask")
    kind: Literal["thread", "process"] = Field("thread", description="local executor pool kind")
    max_workers: int | None = Field(None, ge=1, description="pool size; default: number of CPUs")
    dask_scheduler: str | None = Field(None, description="tcp://host:port; none starts a LocalCluster")


class ServerConfig(_Section):
    """REST API and task manager."""

    host: str = Field("127.0.0.1", description="bind address")
    port: int = Field(8000, ge=1, le=65535, description="bind port")
    api_keys: list[SecretStr] = Field(default_factory=list, description="if set, X-API-Key is required; "
                                      "without keys `cde serve` binds only a loopback address")
    cors_origins: list[str] = Field(default_factory=list, description="allowed CORS origins")
    max_request_bytes: int = Field(1_000_000, ge=1024, description="largest accepted request body")
    task_store: str = Field("memory", description="memory, or redis://host:port/db")
    task_ttl_s: int = Field(7 * 24 * 3600, ge=60, description="how long finished tasks are kept")
    task_timeout_s: float | None = Field(None, gt=0, description="default per-task timeout")


    @field_validator("api_keys")
    @classmethod
    def _no_empty_key(cls, keys: list[SecretStr]) -> list[SecretStr]:
        # an empty key would read as "no keys" to one check and as a key to another: refuse it
        for position, key in enumerate(keys):
            if not key.get_secret_value().strip():
                raise ValueError(f"API key {position + 1} is empty; use a long random string "
                                 "(python -c 'import secrets; print(secrets.token_urlsafe(32))')")
        return keys


class LoggingConfig(_Section):
    level: Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR"] = "WARNING"
    json_lines: bool = Field(False, description="log as JSON lines (for log shippers)")
    levels: dict[str, str] = Field(default_factory=dict, description="per-module levels, e.g. cde_bars: DEBUG")


class LakeConfig(_Section):
    """How the lake's Parquet files are compressed (every writer: trades, bars, features, runs).

    zstd is the default: the smallest files. LZ4 decodes ~1.3× faster for ~7 % more bytes, worth it
    when reading is CPU-bound (one core per symbol, fast local disk) rather than bound by disk or
    network; see docs/lake.md. Files of both kinds read back alike, so a lake may mix them."""

    compression: Literal["zstd", "lz4", "snappy", "gzip", "brotli", "none"] = Field(
        "zstd", description="Parquet page compression: zstd (smallest), lz4 (fastest to decode), "
                            "snappy, gzip, brotli or none")
    compression_level: int | None = Field(
        None, description="codec level (zstd 1-22, gzip 1-9, brotli 0-11); none: the codec's default")

    @field_validator("compression_level")
    @classmethod
    def _level_fits_codec(cls, level: int | None, info: ValidationInfo) -> int | None:
        ranges = {"zstd": (1, 22), "gzip": (1, 9), "brotli": (0, 11)}
        codec = info.data.get("compression")
        if level is None or codec is None:  # no level, or the codec itself was rejected
            return level
        if codec not in ranges:
            raise ValueError(f"compression '{codec}' takes no level; levels apply to {', '.join(ranges)}")
        low, high = ranges[codec]
        if not low <= level <= high:
            raise ValueError(f"{codec} level must be within {low}..{high}, got {level}")
        return level


def default_data_root() -> Path:
    return Path(user_data_dir("cde", appauthor=False)) / "lake"


class CdeConfig(_Section):
    """The effective configuration."""

    data_root: LakeRootField = Field(default_factory=default_data_root,
                                     description="root of the lake: a folder or s3://bucket/prefix")
    lake: LakeConfig = Field(default_factory=LakeConfig)
    download: DownloadConfig = Field(default_factory=DownloadConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)


class LoadedConfig(BaseModel):
    """A validated config plus the origin of every explicitly set value (dotted key → origin)."""

    config: CdeConfig
    origins: dict[str, str]
    file: Path | None = None


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"'{part}' is not a section", where=dotted)
    node[parts[-1]] = value


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value and key != "levels":
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


#: CDE_* variables read outside this config (CLI options, plugin loading, caches, the server's start-up,
#: tests); a name close to a setting but not one of these is taken for a typo (:func:`_refuse_misspelt_env`)
OTHER_ENV = frozenset({"CDE_CONFIG", "CDE_URL", "CDE_API_KEY", "CDE_LOAD_PLUGINS", "CDE_DISABLE_PLUGINS",
                       "CDE_CACHE_DIR", "CDE_REDIS_WAIT_S", "CDE_TEST_REDIS"})


def _setting_env_names() -> list[str]:
    """Every variable that sets a config value: the aliases and ``CDE_<SECTION>__<FIELD>``."""
    names = list(ENV_ALIASES)
    for name, field in CdeConfig.model_fields.items():
        fields = getattr(field.annotation, "model_fields", None)
        names += [f"CDE_{name.upper()}__{sub.upper()}" for sub in fields] if fields else [f"CDE_{name.upper()}"]
    return names


def _refuse_misspelt_env(environ: dict[str, str]) -> None:
    """``CDE_DATAROOT`` or ``CDE_SERVER_PORT`` (one underscore) would be ignored and the default used — a
    typo'd lake root then reads another lake without a word. A name that is no setting but close to one
    is an error naming the setting."""
    settable = _setting_env_names()
    known = {*settable, *OTHER_ENV}
    for name in environ:
        if not name.startswith("CDE_") or "__" in name or name in known:
            continue
        close = nearest(name, settable, n=1, cutoff=0.85)
        if close:
            raise ConfigError(f"environment variable {name} is not a cde setting and would be ignored",
                              where=f"environment variable {name}",
                              hint=f"did you mean {close[0]}? rename it (or unset it)")


def _env_layer(environ: dict[str, str]) -> dict[str, Any]:
    _refuse_misspelt_env(environ)
    layer: dict[str, Any] = {}
    for name, raw in environ.items():
        dotted = _env_key(name)
        if dotted is None:
            continue
        value = flag_value(raw)
        if isinstance(value, dict) and list(value.values()) == [None]:
            value = raw  # "s3:" is a (bad) value, not the mapping {"s3": None} ("cde_bars: DEBUG" is one)
        _set_dotted(layer, dotted, value)
    return layer


def _file_layer(path: Path) -> dict[str, Any]:
    data = load_yaml(path.read_text(), str(path),
                     hint="fix the syntax or regenerate it with `cde config init`") or {}
    if not isinstance(data, dict):
        raise ConfigError("config file must hold a mapping of sections", where=str(path))
    return data


def _merge(base: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in layer.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "levels":
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def find_config_file(explicit: Path | None = None, environ: dict[str, str] | None = None) -> Path | None:
    """The config file in force: explicit path, then ``$CDE_CONFIG``, then ``./cde.yaml``."""
    env = os.environ if environ is None else environ
    if explicit is not None:
        if not explicit.exists():
            raise ConfigError("config file not found", where=str(explicit), hint="create it with `cde config init`")
        return explicit
    if env.get(CONFIG_FILE_ENV):
        path = Path(env[CONFIG_FILE_ENV])
        if not path.exists():
            raise ConfigError("config file named by CDE_CONFIG not found", where=str(path))
        return path
    local = Path(DEFAULT_CONFIG_FILE)
    return local if local.exists() else None


def load_config(
    file: Path | None = None,
    *,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    use_file: bool = True,
) -> LoadedConfig:
    """Build the effective config. ``overrides`` use dotted keys (``{"server.port": 9000}``)."""
    env = dict(os.environ if environ is None else environ)
    path = find_config_file(file, env) if use_file else None
    layers: list[tuple[str, dict[str, Any]]] = []
    if path is not None:
        layers.append((f"file {path}", _file_layer(path)))
    layers.append(("environment", _env_layer(env)))
    override_tree: dict[str, Any] = {}
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(override_tree, dotted, value)
    layers.append(("command line", override_tree))

    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for origin, layer in layers:
        merged = _merge(merged, layer)
        origins.update({key: origin for key in _flatten(layer)})
        if origin == "environment":  # a variable holding a mapping sets its own key too: blame it by name
            origins.update({key: origin for name in env if (key := _env_key(name)) is not None})
    try:
        config = CdeConfig.model_validate(merged)
    except ValidationError:
        config = _validate_by_section(merged, origins, env)
    return LoadedConfig(config=config, origins=origins, file=path)


class BrokenSection:
    """Stands in for a config section whose values failed validation: any use raises its error."""

    def __init__(self, error: ConfigError) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy, pickle and friends probe for optional dunders
            raise AttributeError(name)
        raise ConfigError(self.error.what, where=self.error.where, hint=self.error.hint)


def _config_error(exc: ValidationError, origins: dict[str, str], environ: dict[str, str]) -> ConfigError:
    """The first problem as a one-line error naming the dotted key and the file (or variable) that set it."""
    from cde_core.suggest import did_you_mean

    key, message = first_validation_problem(exc)
    hint = ("API keys are strings: quote one that reads as a number, CDE_API_KEYS='[\"12345\"]'"
            if key.startswith("server.api_keys.") else
            "fix it, see `cde config show`, or compare with the template from `cde config init`")
    first = exc.errors()[0]
    if first["type"] == "extra_forbidden" and len(first["loc"]) == 2:
        section = CdeConfig.model_fields[str(first["loc"][0])].annotation
        fields = getattr(section, "model_fields", {})
        hint = did_you_mean(str(first["loc"][1]), fields, what=f"keys of {first['loc'][0]}")
    return ConfigError(f"bad config value for '{key}': {message}", where=_blame(key, origins, environ), hint=hint)


def _validate_by_section(merged: dict[str, Any], origins: dict[str, str], environ: dict[str, str]) -> CdeConfig:
    """Validate each section alone: unknown keys fail now, a bad section only where it is used."""
    from cde_core.suggest import did_you_mean

    sections = CdeConfig.model_fields
    for key in merged:
        if key not in sections:
            dotted = next((k for k in origins if k == key or k.startswith(f"{key}.")), key)
            raise ConfigError(f"unknown config key '{key}'", where=_blame(dotted, origins, environ),
                              hint=did_you_mean(key, sections, what="config sections"))
    values: dict[str, Any] = {}
    for name in sections:
        if name not in merged:
            continue
        try:
            values[name] = CdeConfig.model_validate({name: merged[name]}).__dict__[name]
        except ValidationError as exc:
            if name == "data_root":  # not a section: every command needs it, so it fails at once
                raise _config_error(exc, origins, environ) from None
            values[name] = BrokenSection(_config_error(exc, origins, environ))
    defaults = {name: getattr(CdeConfig(), name) for name in sections if name not in values}
    return CdeConfig.model_construct(**defaults, **values)


def _blame(key: str, origins: dict[str, str], environ: dict[str, str]) -> str:
    """Where the bad value of ``key`` came from: the value set at ``key`` or at the nearest enclosing
    key (``server.api_keys`` for ``server.api_keys.0``), naming the environment variable when it was one."""
    parts = key.split(".")
    for end in range(len(parts), 0, -1):
        dotted = ".".join(parts[:end])
        if dotted in origins:
            origin = origins[dotted]
            if origin == "environment":
                names = [n for n in environ if _env_key(n) == dotted]
                return f"environment variable {names[0]}" if names else origin
            return origin
    return "defaults"


def _env_key(name: str) -> str | None:
    """The dotted config key an environment variable sets, or None."""
    if name in ENV_ALIASES:
        return ENV_ALIASES[name]
    if name.startswith("CDE_") and "__" in name:
        return name.removeprefix("CDE_").lower().replace("__", ".")
    return None


def _inline_yaml(value: Any) -> str:
    """A value as one line of YAML (what a user would type in cde.yaml)."""
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def describe(loaded: LoadedConfig) -> list[tuple[str, str, str]]:
    """Rows of (dotted key, value, origin) for every leaf of the effective config."""
    rows = []
    dumped: dict[str, Any] = {}
    for name in CdeConfig.model_fields:
        section = loaded.config.__dict__[name]
        if isinstance(section, BrokenSection):  # showing every value uses every section
            raise ConfigError(section.error.what, where=section.error.where, hint=section.error.hint)
        dumped[name] = section.model_dump(mode="json") if isinstance(section, BaseModel) else str(section)
    for key, value in _flatten(dumped).items():
        shown = "********" if key == "server.api_keys" and value else value
        rows.append((key, _inline_yaml(shown), loaded.origins.get(key, "default")))
    return rows


def template() -> str:
    """A commented YAML template of every setting with its default (what `cde config init` writes)."""
    lines = ["# cde configuration. Precedence: defaults < this file < CDE_* environment < command-line flags.",
             "# Environment: CDE_<SECTION>__<FIELD>, e.g. CDE_SERVER__PORT=9000; aliases: "
             + ", ".join(ENV_ALIASES), ""]
    default = CdeConfig()
    lines.append(f"# root folder of the lake\ndata_root: {default.data_root}\n")
    for section_name in CdeConfig.model_fields:
        if section_name == "data_root":
            continue
        section = getattr(default, section_name)
        doc = " ".join((type(section).__doc__ or "").split())
        lines.extend(f"# {line}" for line in textwrap.wrap(doc, width=98))
        lines.append(f"{section_name}:")
        for name, field in type(section).model_fields.items():
            value = getattr(section, name)
            if isinstance(value, list):
                value = []
            if field.description:
                lines.append(f"  # {field.description}")
            lines.append(f"  {name}: {_inline_yaml(value)}")
        lines.append("")
    return "\n".join(lines)


_active: LoadedConfig | None = None
_active_file: Path | None = None


def use_config_file(path: Path | None) -> None:
    """Set the file the process-wide config loads from (the CLI's ``--config``)."""
    global _active, _active_file
    _active_file, _active = path, None


def get_loaded_config() -> LoadedConfig:
    """The process-wide effective config with origins, loaded on first use."""
    global _active
    if _active is None:
        _active = load_config(_active_file)
    return _active


def get_config() -> CdeConfig:
    """The process-wide effective config, loaded on first use."""
    return get_loaded_config().config


def set_config(loaded: LoadedConfig | None) -> None:
    """Replace the process-wide config (tests, the server's startup, `cde demo`)."""
    global _active
    _active = loaded
