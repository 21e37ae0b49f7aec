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
