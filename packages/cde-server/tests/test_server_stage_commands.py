"""Missing stages are named with what to install; the demo knows its steps' commands up front."""

from __future__ import annotations

from pathlib import Path

import pytest

from cde_server.cli.main import run
from cde_server.demo.pipeline import demo_steps
from cde_server.demo.settings import DemoSettings
from cde_server.stage_commands import STAGE_COMMANDS


def test_every_demo_step_knows_its_command_before_its_arguments_exist(tmp_path: Path) -> None:
    steps = demo_steps(DemoSettings(data_root=tmp_path))
    buildable = [s for s in steps if s.command != "backtest"]  # its args write the run config first
    assert [s.args()[0] for s in buildable] == [s.command for s in buildable]
    assert {s.command for s in steps} <= set(STAGE_COMMANDS)


def test_a_disabled_stage_command_says_how_to_get_it_back(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from cde_core.plugins import PluginHost, reset_plugins

    monkeypatch.setenv("CDE_DISABLE_PLUGINS", "features,backtest")
    previous = reset_plugins(PluginHost())
    try:
        assert run(["features", "list"], debug=False) == 1
        assert "`cde features` comes with cde-features, which is installed but not loaded" in capsys.readouterr().err
        assert run(["demo", "--data-root", "x"], debug=False) == 1
        err = " ".join(capsys.readouterr().err.split())
        assert "`cde demo` needs `cde features`, `cde backtest` from cde-backtest, cde-features" in err
    finally:
        reset_plugins(previous)


def test_the_demo_on_a_bucket_keeps_its_lake_there_and_its_archive_and_work_files_local(
        tmp_path: Path, s3_lake_url: str) -> None:
    """``cde demo --data-root s3://…``: the lake goes under the prefix, the generated archive and the
    work files into the lake's local work folder; a prefix that is not the demo's is never emptied."""
    from cde_core.errors import ConfigError
    from cde_core.lake_location import local_work_dir
    from cde_core.object_store import ObjectPath
    from cde_server.demo.command import MARKER, prepare_root

    settings = DemoSettings(data_root=s3_lake_url)
    root = ObjectPath(s3_lake_url)
    assert settings.lake == root / "lake" and settings.work == local_work_dir(root) / "demo" / "work"
    assert settings.archive.is_relative_to(tmp_path / "cde-cache")  # CDE_CACHE_DIR of this test
    steps = {s.command: s for s in demo_steps(settings)}
    assert str(settings.archive) in steps["exchanges"].args()
    foreign = root / "lake" / "trades" / "part-0.parquet"
    foreign.write_bytes(b"someone else's data")
    with pytest.raises(ConfigError, match="not empty and was not created by `cde demo`"):
        prepare_root(settings, clean=True)
    assert foreign.read_bytes() == b"someone else's data"
    foreign.unlink()
    prepare_root(settings, clean=False)
    assert (root / MARKER).exists() and settings.work.is_dir()
    (settings.lake / "runs" / "r" / "metrics.json").write_bytes(b"{}")
    (settings.work / "universe.parquet").write_bytes(b"x")
    prepare_root(settings, clean=True)  # the demo's own prefix: emptied, the local part too
    assert [p for p, _ in root.walk_files()] == [root / MARKER]
    assert settings.work.is_dir() and not any(settings.work.iterdir())


def test_a_demo_data_root_with_an_unknown_scheme_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["demo", "--data-root", "gs://bucket/demo"], debug=False) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad demo option --data-root" in err and "gs://" in err, err
