"""Funding from the lake's funding tree (``cde download --kind fundingRate``) in the backtest panel: each
settlement is charged on the bar whose period contains its calc_time (the symbol's next bar when it has
none there), and the run's NAV equals the hand-computed one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from cde_backtest.data import load_panel
from cde_backtest.funding import funding_column
from cde_backtest.models import BacktestRequest
from cde_backtest.run_store import RunStore
from cde_backtest.service import run_backtest
from cde_core.lake import Lake, Provenance
from cde_core.schemas import BARS_SCHEMA, FUNDING_SCHEMA, PERIOD_START

START = pd.Timestamp("2024-01-01", tz="UTC")
N_BARS = 12


def write_bars(lake: Lake, symbol: str) -> None:
    """Hourly bars: close 100 + t, open 99 + t."""
    t = np.arange(N_BARS)
    ts = START + pd.to_timedelta(t, unit="h")
    close = 100.0 + t
    open_ = 99.0 + t
    table = pa.table({
        "ts": pa.array(ts, BARS_SCHEMA.field("ts").type),
        "ts_close": pa.array(ts + pd.Timedelta(minutes=59), BARS_SCHEMA.field("ts").type),
        "open": open_, "high": close + 0.5, "low": open_ - 0.5, "close": close, "volume": np.full(N_BARS, 10.0),
        "quote_volume": close * 10.0, "vwap": close, "n_trades": pa.array(np.full(N_BARS, 5), pa.int64()),
        "buy_volume": np.full(N_BARS, 5.0), "buy_quote_volume": close * 5.0,
        "first_trade_id": pa.array(t, pa.int64()), "last_trade_id": pa.array(t, pa.int64()),
        PERIOD_START: pa.array(ts, BARS_SCHEMA.field("ts").type),
    })
    lake.write_partition(lake.bars_dir("time-1h", "binance", "um", symbol) / "month=2024-01", table,
                         Provenance(source="test", rows=N_BARS))


def write_funding(lake: Lake, symbol: str, month: str, events: list[tuple[str, float]], interval: int = 8) -> None:
    table = pa.table({"calc_time": pa.array(pd.to_datetime([e[0] for e in events], utc=True),
                                            FUNDING_SCHEMA.field("calc_time").type),
                      "funding_interval_hours": pa.array([interval] * len(events), pa.int64()),
                      "funding_rate": [e[1] for e in events]}, schema=FUNDING_SCHEMA)
    lake.write_partition(lake.funding_dir("binance", "um", symbol, pd.Timestamp(month + "-01").date()), table,
                         Provenance(source="test", rows=len(events)))


def backtest_request() -> BacktestRequest:
    return BacktestRequest.model_validate({
        "strategy": "trend_following", "params": {"fast": 1, "slow": 2, "long_only": True}, "bars": "time-1h",
        "exchange": "binance", "market": "um",
        "engine": {"initial_cash": 1000.0, "fraction": 1.0, "costs": {"maker_bp": 0, "taker_bp": 0}}})


@pytest.mark.parametrize("where", ["local", "s3"])
def test_funding_tree_fills_the_panel_and_the_nav_matches_the_hand_computation(where, tmp_path, request) -> None:  # type: ignore[no-untyped-def]
    lake = Lake(tmp_path if where == "local" else request.getfixturevalue("s3_lake_url"))
    write_bars(lake, "BTCUSDT")
    without = run_backtest(backtest_request(), lake)
    write_funding(lake, "BTCUSDT", "2023-12", [("2023-12-31T16:00:00.004", 0.01)])  # before the first bar
    write_funding(lake, "BTCUSDT", "2024-01", [
        ("2024-01-01T00:00:00.001", 0.005),   # bar 0: nothing held yet
        ("2024-01-01T04:00:00.005", 0.001),   # bar 04:00, close 104
        ("2024-01-01T08:00:00.003", -0.002),  # bar 08:00, close 108
        ("2024-01-01T12:00:00.002", 0.007),   # after the last bar's period [11:00, 12:00)
    ])
    panel = load_panel(lake, bars="time-1h", features=None, exchange="binance", market="um")
    rates = panel["funding_rate"].droplevel("symbol")
    assert rates[rates != 0].to_dict() == {START: 0.005, START + pd.Timedelta(hours=4): 0.001,
                                           START + pd.Timedelta(hours=8): -0.002}
    result = run_backtest(backtest_request(), lake)
    # signal +1 from bar 1 (close above its 2-bar mean), filled at open[2] = 101 with all 1000 of equity
    qty = 1000.0 / 101.0
    assert 1000.0 * (1 + without.metrics.total_return) == pytest.approx(1000.0 + qty * (111.0 - 101.0), rel=1e-12)
    funding = -qty * 104.0 * 0.001 - qty * 108.0 * -0.002
    assert result.metrics.total_funding == pytest.approx(funding, rel=1e-12)
    nav = RunStore(lake).load(result.run_id).nav["nav"].iloc[-1]
    assert nav == pytest.approx(1000.0 + qty * (111.0 - 101.0) + funding, rel=1e-12)


def test_a_symbol_without_a_bar_in_the_period_pays_on_its_next_bar_never_earlier() -> None:
    hours = [START + pd.Timedelta(hours=h) for h in range(4)]
    rows = [(h, "A") for h in hours] + [(hours[0], "B"), (hours[3], "B")]
    index = pd.MultiIndex.from_tuples(sorted(rows), names=["ts", "symbol"])
    calc = [(START + pd.Timedelta(hours=1, minutes=30)).value] * 2
    rates = pd.DataFrame({"symbol": ["A", "B"], "calc_time": calc, "funding_rate": [0.1, 0.2]})
    column = funding_column(index, rates)
    assert column[column != 0].to_dict() == {(hours[1], "A"): 0.1, (hours[3], "B"): 0.2}


def funding_notice(notices: list[str]) -> list[str]:
    return [n for n in notices if "funding" in n]


def test_a_perpetual_run_without_any_funding_tree_says_it_pays_none(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lake = Lake(tmp_path)
    write_bars(lake, "BTCUSDT")
    result = run_backtest(backtest_request(), lake)
    assert result.metrics.total_funding == 0.0
    [notice] = funding_notice(result.notices)
    assert "no funding settlements" in notice and "BTCUSDT" in notice
    assert "cde download --kind fundingRate --exchange binance --market um --symbols BTCUSDT" in notice


def test_a_symbol_the_tree_lacks_and_a_missing_settlement_are_named_not_paid_as_zero(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lake = Lake(tmp_path)
    write_bars(lake, "BTCUSDT")
    write_bars(lake, "ETHUSDT")
    # BTC settles at 00:00 and 08:00 of its 12 hourly bars: complete; ETH has no settlement at all
    write_funding(lake, "BTCUSDT", "2024-01", [("2024-01-01T00:00:00.001", 0.001), ("2024-01-01T08:00:00.002", 0.001)])
    panel = load_panel(lake, bars="time-1h", features=None, exchange="binance", market="um")
    [notice] = funding_notice(panel.attrs["coverage_notices"])
    assert "1 of 2 symbols" in notice and "ETHUSDT 2024-01-01 00:00 … 2024-01-01 12:00" in notice
    assert "BTCUSDT 2024" not in notice and "--symbols ETHUSDT " in notice


@pytest.mark.parametrize(("interval", "times", "gap"), [
    (8, ["00:00:00.001"], "BTCUSDT 2024-01-01 00:00 … 2024-01-01 12:00"),  # the 08:00 settlement is missing
    (4, ["00:00:00.001", "08:00:00.001"], "BTCUSDT 2024-01-01 00:00 … 2024-01-01 08:00"),  # 4h: 04:00 missing
    (4, ["04:00:00.001"], "BTCUSDT 2024-01-01 04:00 … 2024-01-01 12:00"),  # 4h: 08:00 missing, 12:00 not yet
])
def test_a_settlement_due_in_the_bars_but_missing_is_a_notice(tmp_path, interval, times, gap) -> None:  # type: ignore[no-untyped-def]
    lake = Lake(tmp_path)
    write_bars(lake, "BTCUSDT")
    write_funding(lake, "BTCUSDT", "2024-01", [(f"2024-01-01T{t}", 0.001) for t in times], interval)
    notices = funding_notice(load_panel(lake, bars="time-1h", features=None, exchange="binance",
                                        market="um").attrs["coverage_notices"])
    [notice] = notices
    assert gap in notice and "pay no funding" in notice


def test_settlements_every_interval_give_no_notice_at_4h_or_8h(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lake = Lake(tmp_path)
    write_bars(lake, "BTCUSDT")
    write_bars(lake, "ETHUSDT")
    write_funding(lake, "BTCUSDT", "2024-01", [(f"2024-01-01T{h:02d}:00:00.003", 0.001) for h in (4, 8)], 4)
    write_funding(lake, "ETHUSDT", "2024-01", [("2024-01-01T08:00:00.003", 0.001)], 8)
    panel = load_panel(lake, bars="time-1h", features=None, exchange="binance", market="um")
    assert funding_notice(panel.attrs["coverage_notices"]) == []
