"""Every builder gives exactly the bars of the slow pure-Python reference, on random streams with
ties on the threshold, single-trade bars, equal timestamps and gaps of days."""

from __future__ import annotations

from typing import Any

import cde_bars_oracle as oracle
from cde_bars_streams import rows, trade_streams, trades_table
from hypothesis import given, settings
from hypothesis import strategies as st

from cde_bars.catalog import builder_by_name

EXAMPLES = settings(max_examples=50, deadline=None)


def built(name: str, trades: list[oracle.Trade], params: dict[str, Any]) -> tuple[list, list]:
    builder = builder_by_name(name)
    state = builder.new_state(params)
    closed = rows(builder.update(state, trades_table(trades)))
    rest = rows(builder.flush(state))
    return closed, rest


def expect(closed: list, rest: list, want: tuple[list, dict | None]) -> None:
    want_closed, want_open = want
    assert closed == want_closed
    assert rest == ([want_open] if want_open else [])


@EXAMPLES
@given(trades=trade_streams(), measure=st.sampled_from(["tick", "volume", "dollar"]),
       threshold=st.sampled_from([1.0, 2.0, 3.0, 5.0]), scale=st.sampled_from([1.0, 100.0]))
def test_fixed_threshold_bars_match_oracle(trades: list, measure: str, threshold: float,
                                           scale: float) -> None:
    if measure == "dollar":
        threshold *= scale
    closed, rest = built(measure, trades, {"threshold": threshold})
    expect(closed, rest, oracle.threshold_bars(trades, measure, threshold))


@EXAMPLES
@given(trades=trade_streams(max_size=120), measure=st.sampled_from(["tick", "volume", "dollar"]),
       bars_per_day=st.sampled_from([0.5, 1.0, 3.0]), window=st.integers(1, 4))
def test_dynamic_threshold_bars_match_oracle(trades: list, measure: str, bars_per_day: float,
                                             window: int) -> None:
    params = {"threshold": 4.0, "bars_per_day": bars_per_day, "window_days": window}
    closed, rest = built(measure, trades, params)
    expect(closed, rest, oracle.threshold_bars(trades, measure, 4.0, bars_per_day, window))


@EXAMPLES
@given(trades=trade_streams(), interval=st.sampled_from(["1s", "1m", "1h", "7h", "1d"]), fill=st.booleans())
def test_time_bars_match_oracle(trades: list, interval: str, fill: bool) -> None:
    from cde_bars.params import interval_seconds

    closed, rest = built("time", trades, {"interval": interval, "fill": fill})
    expect(closed, rest, oracle.time_bars(trades, interval_seconds(interval) * 1_000_000, fill))


@EXAMPLES
@given(trades=trade_streams(max_size=120), measure=st.sampled_from(["tick", "volume", "dollar"]),
       run=st.booleans(), side=st.sampled_from(["taker", "tick_rule"]), init=st.sampled_from([2.0, 5.0, 8.0]),
       low=st.sampled_from([1.0, 2.0]), high=st.sampled_from([8.0, 20.0]), span=st.sampled_from([1, 3, 10]),
       floor=st.sampled_from([0.0, 0.1, 0.5]))
def test_information_bars_match_oracle(trades: list, measure: str, run: bool, side: str, init: float,
                                       low: float, high: float, span: int, floor: float) -> None:
    params: dict[str, Any] = {"expected_ticks_init": init, "expected_ticks_min": low,
                              "expected_ticks_max": high, "ewma_bars": span, "side": side}
    if not run:
        params["imbalance_floor"] = floor
    name = f"{measure}_{'run' if run else 'imbalance'}"
    closed, rest = built(name, trades, params)
    expect(closed, rest, oracle.information_bars(trades, measure, run, **params))
