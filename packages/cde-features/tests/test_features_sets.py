"""Feature sets: the fixed `default`, YAML feature-set files, --param flags, the REST model and the
manifest stored with the features."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cde_core.errors import ConfigError
from cde_core.lake import Lake
from cde_core.lake_location import arrow_target
from cde_core.plugins import PluginHost
from cde_core.testing import write_bars_lake
from cde_features.calculator import UnifiedFeatureCalculator
from cde_features.feature_set import FeatureSet, default_feature_set
from cde_features.feature_set_file import load_feature_set_file, parse_param_flags

SET_FILE = """
name: mine
factors:
  - factor: ret_log
    params: {window: 6}
  - factor: rsi
  - factor: example_range_position
    params: {window: 10}
"""


def test_default_is_the_same_with_and_without_third_party_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    with_plugin = UnifiedFeatureCalculator(host=PluginHost())
    monkeypatch.setenv("CDE_DISABLE_PLUGINS", "example")
    without = UnifiedFeatureCalculator(host=PluginHost())
    assert with_plugin.columns == without.columns
    assert len(default_feature_set().factors) == len(with_plugin.factors)


def test_a_set_file_lists_factors_with_params_in_order(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(SET_FILE)
    calc = UnifiedFeatureCalculator(load_feature_set_file(path))
    assert calc.columns == ["ret_log_6", "rsi_14", "example_range_position_10"]
    assert calc.id.startswith("mine-") and len(calc.id) == len("mine-") + 8
    assert {r.distribution for r in calc.factors} == {"cde-features", "cde-example-plugin"}


@pytest.mark.parametrize(("text", "message"), [
    ("name: x\nfactors: [{factor: rsi, params: {window: [}]\n", "line 2"),
    ("name: x\nfactors: [{factor: rsi, parms: {}}]\n", "factors.0.parms"),
    ("- rsi\n", "must be a mapping"),
    ("name: x\nfactors: []\n", "factors"),
])
def test_a_bad_set_file_is_one_error_naming_the_file_and_place(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_feature_set_file(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_param_flags_are_typed_yaml_scalars() -> None:
    assert parse_param_flags(["rsi.window=21", "cs_rank.source=ret_log_24", "x.flag=true", "x.f=0.5"]) == {
        "rsi": {"window": 21}, "cs_rank": {"source": "ret_log_24"}, "x": {"flag": True, "f": 0.5}}
    with pytest.raises(ConfigError, match=r"FACTOR\.PARAM=VALUE"):
        parse_param_flags(["window=21"])


def _bars_lake(root: Path | str) -> None:
    write_bars_lake(root, "time-1h", ["AAAUSDT", "BBBUSDT"], 24 * 5)


def test_cli_set_file_and_params_write_a_manifest_with_distributions(tmp_path: Path, lake_root: str) -> None:
    _bars_lake(lake_root)
    lake = Lake(lake_root)
    # the set file lives beside the lake: a local file, or an object in the same bucket
    set_file = tmp_path / "mine.yaml" if not lake.is_object_store else lake.root.parent / "sets" / "mine.yaml"
    set_file.write_text(SET_FILE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDE_")}
    env["CDE_DATA_ROOT"] = lake_root
    env["CDE_CACHE_DIR"] = str(tmp_path / "cde-cache")
    done = subprocess.run([sys.executable, "-m", "cde_server.cli.main", "features", "compute", "--bars", "time-1h",
                           "--set-file", str(set_file), "--param", "rsi.window=7"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    part = next((lake.root / "features").rglob("part-0.parquet"))
    where, filesystem = arrow_target(part)
    assert [c for c in pq.read_schema(where, filesystem=filesystem).names if c != "ts"] == [
        "ret_log_6", "rsi_7", "example_range_position_10"]
    manifest = Lake.read_provenance(part)
    assert manifest is not None
    factors = manifest.extra["factors"]
    assert [(f["factor"], f["params"], f["distribution"]) for f in factors] == [
        ("ret_log", {"window": 6}, "cde-features"), ("rsi", {"window": 7}, "cde-features"),
        ("example_range_position", {"window": 10}, "cde-example-plugin")]
    assert all(f["version"] for f in factors)


def test_rest_compute_takes_the_same_feature_set_model(lake_root: str) -> None:
    from fastapi.testclient import TestClient

    from cde_core.config import CdeConfig
    from cde_server.api.app import create_app

    _bars_lake(lake_root)
    body = {"bars": "time-1h", "feature_set": {"name": "mine", "factors": [
        {"factor": "ret_log", "params": {"window": 6}}, {"factor": "example_range_position"}]},
        "params": {"ret_log": {"window": 3}}}
    with TestClient(create_app(CdeConfig(data_root=lake_root))) as client:
        task = client.post("/features/compute", json=body)
        assert task.status_code == 202, task.text
        for _ in range(600):
            state = client.get(f"/tasks/{task.json()['id']}").json()
            if state["status"] in ("succeeded", "failed"):
                break
            time.sleep(0.05)
        assert state["status"] == "succeeded", state
        assert state["result"]["columns"] == ["ret_log_3", "example_range_position_24"]
        assert len(state["result"]["files"]) == 2, state["result"]
        # lake paths reach clients relative to the lake, whatever the store
        assert all(f.startswith("<lake>/features/spec=") for f in state["result"]["files"]), state["result"]
        bad = client.post("/features/compute", json={**body, "feature_set": {"name": "x", "factors": []}})
        assert bad.status_code == 422
    assert FeatureSet.model_json_schema()["required"] == ["name", "factors"]
