"""The `cde` shell as a user meets it: plugins listing, broken plugins, bad config, one-line errors."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from cde_core.testing import install_fake_distribution


def test_plugins_json_lists_builtins_and_the_example_plugin(run_cde) -> None:  # type: ignore[no-untyped-def]
    result = run_cde("plugins", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    plugins = {p["name"]: p for p in report["plugins"]}
    assert plugins["core"]["builtin"] and plugins["core"]["status"] == "ok"
    assert plugins["example"]["distribution"] == "cde-example-plugin" and not plugins["example"]["builtin"]
    components = {(c["kind"], c["name"]): c for c in report["components"]}
    assert components[("factors", "example_range_position")]["distribution"] == "cde-example-plugin"
    assert ("executors", "local") in components


def test_no_builtin_flag_hides_cde_own_plugins(run_cde) -> None:  # type: ignore[no-untyped-def]
    report = json.loads(run_cde("plugins", "--json", "--no-builtin").stdout)
    assert {p["name"] for p in report["plugins"]} == {"example"}


def test_broken_plugin_is_listed_while_everything_else_works(run_cde, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site = install_fake_distribution(tmp_path / "site", "fake-broken", "fake_cde_broken_mod",
                                     "import not_a_real_module_xyz\n", "broken_one")
    env = {"PYTHONPATH": str(site)}
    listed = run_cde("plugins", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    broken = {p["name"]: p for p in json.loads(listed.stdout)["plugins"]}["broken_one"]
    assert broken["status"] == "broken"
    assert broken["error"] == "import failed: ModuleNotFoundError: No module named 'not_a_real_module_xyz'"
    table = run_cde("plugins", env=env)
    assert table.returncode == 0 and "broken" in table.stdout and "Traceback" not in table.stderr
    assert run_cde("config", "show", env=env).returncode == 0


def test_duplicate_name_is_rejected_on_the_newcomer_naming_both_distributions(run_cde, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = textwrap.dedent("""
        from cde_core import hookimpl
        from cde_core.contracts.base import NoParams

        class Clash:
            name = "local"
            summary = "a second executor called local"
            Params = NoParams
            def create(self, params):
                return None

        @hookimpl
        def register_executors(register):
            register(Clash())
    """)
    site = install_fake_distribution(tmp_path / "site", "fake-clash", "fake_cde_clash_mod", source, "clash")
    result = run_cde("plugins", "--json", env={"PYTHONPATH": str(site)})
    report = json.loads(result.stdout)
    plugins = {p["name"]: p for p in report["plugins"]}
    assert plugins["core"]["status"] == "ok" and plugins["core"]["rejected"] == []
    assert plugins["clash"]["status"] == "ok"
    assert plugins["clash"]["rejected"] == ["executors 'local' rejected: the name is already registered by "
                                            "cde-core 0.1.0 (plugin core)"]
    local = next(c for c in report["components"] if c["kind"] == "executors" and c["name"] == "local")
    assert local["distribution"] == "cde-core"


def test_bad_config_value_is_one_line_without_traceback(run_cde, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "cde.yaml").write_text("server:\n  port: 99999999\n")
    result = run_cde("config", "show")
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "server.port" in lines[0] and "cde.yaml" in lines[0]
    assert "Traceback" not in result.stderr
    debug = run_cde("--debug", "config", "show")
    assert "Traceback" in debug.stderr


def test_config_init_writes_a_template_that_show_reports_as_the_source(run_cde, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_cde("config", "init").returncode == 0
    assert run_cde("config", "init").returncode == 1  # refuses to overwrite
    shown = json.loads(run_cde("config", "show", "--json", env={"CDE_SERVER__PORT": "9123"}).stdout)
    values = {v["key"]: v for v in shown["values"]}
    assert values["server.port"]["value"] == "9123" and values["server.port"]["origin"] == "environment"
    assert values["download.retries"]["origin"].startswith("file")


def test_version_flag(run_cde) -> None:  # type: ignore[no-untyped-def]
    result = run_cde("--version")
    assert result.returncode == 0 and result.stdout.startswith("cde ")
