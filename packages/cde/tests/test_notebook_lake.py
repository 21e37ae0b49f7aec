"""The facade dispatches through the plugin registry only: a missing stage names its package, a bad
argument names the service's fields, and it imports no stage package itself."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cde import Lake
from pydantic import BaseModel

from cde_core import hookimpl
from cde_core.errors import CdeError
from cde_core.plugins import PluginHost, reset_plugins


@pytest.fixture
def without_backtest(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CDE_DISABLE_PLUGINS", "backtest")
    previous = reset_plugins(PluginHost())
    try:
        yield
    finally:
        reset_plugins(previous)


def test_a_missing_stage_names_the_package_to_install(tmp_path: Path, without_backtest: None) -> None:
    lake = Lake(tmp_path)
    assert "backtest.run" not in lake.services() and "bars.aggregate" in lake.services()
    with pytest.raises(CdeError, match=r"no installed stage offers 'backtest.run' — pip install cde-backtest"):
        lake.backtest(strategy="trend_following", bars="time-1h")


def test_a_bad_argument_names_the_services_fields(tmp_path: Path) -> None:
    with pytest.raises(CdeError, match=r"bad argument 'exchang' for trades.import.*arguments: files, exchange"):
        Lake(tmp_path).call("trades.import", files=["x.csv"], exchang="a", exchange="a", market="b", symbol="c")


def test_reading_an_empty_lake_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(CdeError, match=r"no trades of X.*import them"):
        Lake(tmp_path).trades("me", "spot", "X")


def test_the_facade_imports_no_stage_package() -> None:
    code = ("import sys; from cde import Lake; Lake('x'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('cde_bars', 'cde_features', 'cde_backtest', 'cde_exchanges', 'cde_server')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


class _Echo(BaseModel):
    word: str


class _EchoService:
    """A third party's service: the facade must reach it by name exactly like the built-ins."""

    name = "echo.say"
    summary = "echo a word with the lake's folder name"
    Params = _Echo

    def run(self, request: _Echo, lake: object, progress: object = None) -> str:
        return f"{request.word} from {lake.root.name}"  # type: ignore[attr-defined]


class _EchoPlugin:
    @hookimpl
    def register_services(self, register):  # type: ignore[no-untyped-def]
        register(_EchoService())


def test_a_third_party_service_registered_by_register_services_is_called_by_name(tmp_path: Path) -> None:
    host = PluginHost()
    host.register(_EchoPlugin(), name="echo", distribution="echo-dist")
    previous = reset_plugins(host)
    try:
        lake = Lake(tmp_path / "mylake")
        assert "echo.say" in lake.services() and "bars.aggregate" in lake.services()
        assert lake.call("echo.say", word="hi") == "hi from mylake"
        with pytest.raises(CdeError, match="word"):
            lake.call("echo.say", words="typo")
    finally:
        reset_plugins(previous)
