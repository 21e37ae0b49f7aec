"""Configuration layering: defaults < YAML < environment < overrides, with origins."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cde_core.config import CdeConfig, describe, load_config, template
from cde_core.errors import ConfigError


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def test_each_layer_overrides_the_one_below_and_records_its_origin(tmp_path: Path) -> None:
    file = write_yaml(tmp_path / "cde.yaml", {"server": {"port": 1111, "host": "0.0.0.0"},
                                              "download": {"retries": 2}})
    env = {"CDE_SERVER__PORT": "2222", "CDE_DOWNLOAD__CONCURRENCY": "7"}
    loaded = load_config(file, environ=env, overrides={"download.concurrency": 9})
    cfg = loaded.config
    assert cfg.server.host == "0.0.0.0" and loaded.origins["server.host"] == f"file {file}"
    assert cfg.server.port == 2222 and loaded.origins["server.port"] == "environment"
    assert cfg.download.concurrency == 9 and loaded.origins["download.concurrency"] == "command line"
    assert cfg.download.retries == 2
    assert cfg.download.timeout_s == CdeConfig().download.timeout_s
    rows = {key: origin for key, _, origin in describe(loaded)}
    assert rows["download.timeout_s"] == "default" and rows["server.port"] == "environment"


def test_aliases_and_yaml_typed_environment_values(tmp_path: Path) -> None:
    env = {"CDE_TASK_STORE": "redis://127.0.0.1:6379/0", "CDE_DATA_ROOT": str(tmp_path),
           "CDE_SERVER__API_KEYS": "[k1, k2]", "CDE_EXECUTOR": "dask"}
    cfg = load_config(environ=env, use_file=False).config
    assert cfg.server.task_store == "redis://127.0.0.1:6379/0"
    assert cfg.data_root == tmp_path
    assert [k.get_secret_value() for k in cfg.server.api_keys] == ["k1", "k2"]
    assert cfg.executor.name == "dask"


def test_bad_value_names_key_and_origin(tmp_path: Path) -> None:
    loaded = load_config(environ={"CDE_SERVER__PORT": "not-a-port"}, use_file=False)
    with pytest.raises(ConfigError) as info:
        _ = loaded.config.server.port
    message = str(info.value)
    assert "server.port" in message and "environment" in message and "\n" not in message


@pytest.mark.parametrize("raw", ["s3:", "S3:"])
def test_a_variable_that_reads_as_a_yaml_mapping_is_a_value_and_is_blamed_by_name(raw: str) -> None:
    """``CDE_DATA_ROOT=s3:`` once parsed as the mapping {"s3": None} and its error blamed "(defaults)"."""
    with pytest.raises(ConfigError) as info:
        _ = load_config(environ={"CDE_DATA_ROOT": raw}, use_file=False).config.data_root
    assert info.value.where == "environment variable CDE_DATA_ROOT", info.value
    levels = load_config(environ={"CDE_LOGGING__LEVELS": "cde_bars: DEBUG"}, use_file=False)  # a real mapping
    assert levels.config.logging.levels == {"cde_bars": "DEBUG"}
    assert levels.origins["logging.levels"] == "environment"


def test_a_bad_section_fails_where_it_is_used_not_everywhere(tmp_path: Path) -> None:
    """A bad server.port stops `cde serve` but not `cde lake ls`, which needs only data_root."""
    file = write_yaml(tmp_path / "cde.yaml", {"data_root": str(tmp_path / "lake"), "server": {"port": 99999999},
                                              "download": {"retries": 3}})
    config = load_config(file, environ={}).config
    assert config.data_root == tmp_path / "lake" and config.download.retries == 3
    assert config.executor.name == "local"
    with pytest.raises(ConfigError, match=r"bad config value for 'server\.port'.*cde\.yaml"):
        _ = config.server.port
    with pytest.raises(ConfigError, match=r"server\.port"):
        _ = config.server.host  # any use of the broken section


def test_unknown_key_is_rejected(tmp_path: Path) -> None:
    file = write_yaml(tmp_path / "c.yaml", {"server": {"prot": 1}})
    with pytest.raises(ConfigError, match=r"server\.prot.*did you mean port"):
        _ = load_config(file, environ={}).config.server.port
    typo = write_yaml(tmp_path / "d.yaml", {"sever": {"port": 1}})
    with pytest.raises(ConfigError, match=r"unknown config key 'sever' \(file .*d\.yaml\).*did you mean server"):
        load_config(typo, environ={})


def test_invalid_yaml_gives_one_line_with_the_file(tmp_path: Path) -> None:
    file = tmp_path / "c.yaml"
    file.write_text("server: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_config(file, environ={})
    assert str(file) in str(info.value) and "\n" not in str(info.value)


def test_template_comments_carry_whole_section_docstrings() -> None:
    """Each section's docstring is in the template whole, not cut after its first line."""
    comments = " ".join(line.removeprefix("#").strip() for line in template().splitlines() if line.startswith("#"))
    for name, field in CdeConfig.model_fields.items():
        doc = " ".join((getattr(field.annotation, "__doc__", None) or "").split())
        if name != "data_root" and doc:
            assert doc in comments, name
    assert "so tests and the offline demo point the real download code at a local archive server." in comments


def test_template_round_trips_to_the_defaults(tmp_path: Path) -> None:
    file = tmp_path / "cde.yaml"
    file.write_text(template())
    loaded = load_config(file, environ={})
    assert loaded.config == CdeConfig()
    assert all(line.startswith(("#", " ", "")) for line in template().splitlines())


def test_lake_compression_is_configured_and_reaches_the_write_options(tmp_path: Path) -> None:
    from cde_core.parquet_encoding import parquet_write_options
    from cde_core.schemas import TRADES_SCHEMA

    assert CdeConfig().lake.compression == "zstd"
    cfg = load_config(environ={"CDE_LAKE__COMPRESSION": "lz4"}, use_file=False).config
    assert cfg.lake.compression == "lz4" and cfg.lake.compression_level is None
    file = write_yaml(tmp_path / "c.yaml", {"lake": {"compression": "zstd", "compression_level": 9}})
    cfg = load_config(file, environ={}).config
    options = parquet_write_options(TRADES_SCHEMA, (cfg.lake.compression, cfg.lake.compression_level))
    assert options["compression"] == "zstd" and options["compression_level"] == 9


@pytest.mark.parametrize(("env", "words"), [
    ({"CDE_LAKE__COMPRESSION": "lzo"}, ["lake.compression", "environment"]),
    ({"CDE_LAKE__COMPRESSION": "lz4", "CDE_LAKE__COMPRESSION_LEVEL": "3"},
     ["lake.compression_level", "environment", "takes no level"]),
    ({"CDE_LAKE__COMPRESSION_LEVEL": "30"}, ["lake.compression_level", "1..22", "30"]),
])
def test_bad_lake_compression_says_what_and_where(env: dict[str, str], words: list[str]) -> None:
    loaded = load_config(environ=env, use_file=False)  # a bad section fails where it is used, not at load
    with pytest.raises(ConfigError) as info:
        _ = loaded.config.lake.compression
    message = str(info.value)
    assert all(word in message for word in words) and "\n" not in message, message


@pytest.mark.parametrize(("name", "meant"), [
    ("CDE_DATAROOT", "CDE_DATA_ROOT"), ("CDE_DATA_ROOTT", "CDE_DATA_ROOT"), ("CDE_SERVER_PORT", "CDE_SERVER__PORT"),
    ("CDE_EXECUTER", "CDE_EXECUTOR"), ("CDE_LOGLEVEL", "CDE_LOG_LEVEL"), ("CDE_TASKSTORE", "CDE_TASK_STORE"),
    ("CDE_LAKE_COMPRESSION", "CDE_LAKE__COMPRESSION"), ("CDE_DOWNLOAD_RETRIES", "CDE_DOWNLOAD__RETRIES"),
])
def test_a_misspelt_setting_variable_is_an_error_not_ignored(tmp_path: Path, name: str, meant: str) -> None:
    """Ignored, CDE_DATAROOT=/my/lake would leave the default lake in use: the run reads another lake."""
    with pytest.raises(ConfigError, match=rf"{name} is not a cde setting.*did you mean {meant}\?"):
        load_config(environ={name: str(tmp_path)}, use_file=False)


def test_the_other_cde_variables_are_not_taken_for_typos() -> None:
    """Variables read elsewhere (CLI options, caches, the deploy's compose file) are not settings."""
    import re

    root = Path(__file__).resolve().parents[3]
    texts = [p.read_text() for p in (root / "deploy").iterdir() if p.is_file()]
    names = {n for text in texts for n in re.findall(r"\bCDE_[A-Z0-9_]+", text)}
    names |= {"CDE_CONFIG", "CDE_URL", "CDE_API_KEY", "CDE_LOAD_PLUGINS", "CDE_DISABLE_PLUGINS", "CDE_CACHE_DIR"}
    assert {"CDE_BIND", "CDE_S3_BUCKET", "CDE_DASK_SCHEDULER"} <= names
    for name in sorted(names):
        try:
            load_config(environ={name: "1"}, use_file=False)
        except ConfigError as exc:
            assert "is not a cde setting" not in str(exc), exc
