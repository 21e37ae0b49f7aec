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


def _bars_lake(root: Path) -> Lake:
    """Two symbols of seeded random-walk 1 h bars over 20 days, as the time builder writes them."""
    import numpy as np

    from cde_core.lake import Provenance
    from cde_core.testing.synthetic import hourly_time_bars

    lake = Lake(root)
    rng = np.random.default_rng(8)
    for k, symbol in enumerate(("AAA", "BBB")):
        close = 100 * np.exp(np.cumsum(rng.normal(0.0004 * (k - 0.5), 0.01, 24 * 20)))
        lake.core.write_partition(lake.core.bars_dir("time-1h", "vendor", "spot", symbol) / "month=2024-03",
                                  hourly_time_bars(close, rng.uniform(1, 10, 24 * 20)),
                                  Provenance(source="test", rows=24 * 20))
    return lake


def test_a_filtered_bars_frame_runs_on_its_own_symbols_and_bars(tmp_path: Path) -> None:
    """``lake.backtest(bars=frame)`` trades what the frame holds: a frame filtered to one symbol and ten
    days used to run on every symbol and day of its spec (the frame only named the spec), a different
    backtest without a word; ``lake.features(frame)`` returns the frame's symbols only; a frame that
    does not say where it comes from is one ConfigError, not a KeyError."""
    import pandas as pd

    from cde_core.errors import ConfigError

    lake = _bars_lake(tmp_path / "lake")
    bars = lake.read_bars("time-1h", "vendor", "spot")
    strategy = {"strategy": "trend_following", "params": {"fast": 6, "slow": 24}}
    lake.backtest(**strategy, bars=bars)  # every symbol first, so the features folder holds both
    lake.features(bars, factors=["ret_log_*"])
    sub = bars[(bars["symbol"] == "AAA") & (bars["period_start"] < pd.Timestamp("2024-03-11", tz="UTC"))]
    run = lake.backtest(**strategy, bars=sub)
    assert set(run.trades["symbol"]) == {"AAA"} and len(run.nav) == len(sub) == 24 * 10
    same = lake.backtest(**strategy, bars="time-1h", exchange="vendor", market="spot", symbols=["AAA"],
                         start="2024-03-01", end="2024-03-10")
    assert run.metrics == same.metrics
    features = lake.features(sub, factors=["ret_log_*"])
    assert set(features.index.get_level_values("symbol")) == {"AAA"}
    plain = pd.DataFrame(sub.to_dict("list"))  # a frame built by hand: no attrs
    for call in (lambda: lake.backtest(**strategy, bars=plain), lambda: lake.features(plain)):
        with pytest.raises(ConfigError, match="does not say which lake data it holds"):
            call()


def test_a_run_that_never_trades_is_refused_in_the_notebook_too(tmp_path: Path) -> None:
    """The notebook runs through the same service: a flat run is a FlatRunError naming the strategy,
    never a Run whose total return reads 0 %."""
    from cde_backtest.flat_run import FlatRunError

    lake = _bars_lake(tmp_path / "lake")
    with pytest.raises(FlatRunError, match="strategy momentum_ls took no position"):
        lake.backtest(strategy="momentum_ls", params={"n_long": 0, "n_short": 0, "universe_size": 2,
                                                      "volume_window": 24, "lookback": 24},
                      bars=lake.read_bars("time-1h", "vendor", "spot"))


def test_read_bars_with_a_misspelt_symbol_names_the_nearest_instead_of_returning_less(tmp_path: Path) -> None:
    """``lake.read_bars(..., symbols="AAAA")`` returned an empty frame and ``["AAA", "BBX"]`` AAA's bars
    alone, without a word; now the missing symbol is a NotFoundError naming the nearest held one."""
    from cde_core.errors import NotFoundError

    lake = _bars_lake(tmp_path / "lake")
    with pytest.raises(NotFoundError, match=r"no symbol 'AAAA'.*did you mean AAA"):
        lake.read_bars("time-1h", "vendor", "spot", symbols="AAAA")
    with pytest.raises(NotFoundError, match=r"no symbol 'BBX'.*did you mean BBB"):
        lake.read_bars("time-1h", "vendor", "spot", symbols=["AAA", "BBX"])
    assert set(lake.read_bars("time-1h", "vendor", "spot", symbols="AAA,BBB")["symbol"]) == {"AAA", "BBB"}
