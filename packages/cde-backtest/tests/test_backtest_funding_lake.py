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


def write_funding(lake: Lake, symbol: str, month: str, events: list[tuple[str, float]]) -> None:
    table = pa.table({"calc_time": pa.array(pd.to_datetime([e[0] for e in events], utc=True),
                                            FUNDING_SCHEMA.field("calc_time").type),
                      "funding_interval_hours": pa.array([8] * len(events), pa.int64()),
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
