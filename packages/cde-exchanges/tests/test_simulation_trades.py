"""The simulated tape: canonical schema, determinism, day independence, continuity across days."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from cde_core.errors import ConfigError, NotFoundError
from cde_core.schemas import TRADES_SCHEMA, is_sorted, validate_table
from cde_exchanges.fakes.simulation import MarketSpec, latent_market, simulate_daily_path, simulate_day
from cde_exchanges.fakes.simulation.latent import _cached

SMALL = MarketSpec(symbols=["BTCUSDT", "ETHUSDT", "DOGEUSDT"], start=date(2024, 1, 1), end=date(2024, 1, 10),
                   seed=11, trades_per_day=3_000)


def _day_bounds_us(day: date) -> tuple[int, int]:
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1_000_000
    return start, start + 86_400_000_000


@pytest.mark.parametrize("symbol", SMALL.symbols)
def test_day_is_a_valid_canonical_trades_table(symbol: str) -> None:
    day = date(2024, 1, 3)
    table = simulate_day(SMALL, symbol, day)
    validate_table(table, TRADES_SCHEMA, where="simulated")
    assert table.num_rows == latent_market(SMALL).n_trades[2, SMALL.symbols.index(symbol)] > 500
    assert is_sorted(table["ts"])
    ts = table["ts"].cast(pa.int64()).to_numpy()
    lo, hi = _day_bounds_us(day)
    assert lo <= ts.min() and ts.max() < hi
    ids = table["trade_id"].to_numpy()
    assert np.array_equal(np.diff(ids), np.ones(len(ids) - 1))
    price, qty, quote = (table[c].to_numpy() for c in ("price", "qty", "quote_qty"))
    assert (price > 0).all() and (qty > 0).all()
    np.testing.assert_array_equal(quote, price * qty)
    buyer_maker_share = pc.mean(table["is_buyer_maker"].cast(pa.float64())).as_py()
    assert 0.35 < buyer_maker_share < 0.65


def test_same_spec_same_trades_and_seed_matters() -> None:
    day = date(2024, 1, 4)
    assert simulate_day(SMALL, "ETHUSDT", day).equals(simulate_day(SMALL, "ETHUSDT", day))
    other = SMALL.model_copy(update={"seed": 12})
    assert not simulate_day(other, "ETHUSDT", day).equals(simulate_day(SMALL, "ETHUSDT", day))


def test_days_generated_out_of_order_in_a_fresh_process_state_are_identical() -> None:
    days = SMALL.days()
    _cached.cache_clear()
    forward = [simulate_day(SMALL, "BTCUSDT", d) for d in days]
    _cached.cache_clear()
    backward = [simulate_day(SMALL, "BTCUSDT", d) for d in reversed(days)][::-1]
    _cached.cache_clear()
    single = simulate_day(SMALL, "BTCUSDT", days[6])
    assert all(a.equals(b) for a, b in zip(forward, backward, strict=True))
    assert single.equals(forward[6])


def test_trade_ids_continue_across_days() -> None:
    tables = [simulate_day(SMALL, "DOGEUSDT", d) for d in SMALL.days()]
    for previous, current in itertools.pairwise(tables):
        assert current["trade_id"][0].as_py() == previous["trade_id"][-1].as_py() + 1


def test_prices_are_continuous_across_day_boundaries() -> None:
    market = latent_market(SMALL)
    column = SMALL.symbols.index("BTCUSDT")
    tables = [simulate_day(SMALL, "BTCUSDT", d) for d in SMALL.days()]
    half_spread = SMALL.half_spread_bps * 1e-4
    for row, (today, tomorrow) in enumerate(itertools.pairwise(tables)):
        close = market.close[row, column]
        # the day's last mid is the latent close; the print is off by the half spread and a tick
        assert abs(math.log(today["price"][-1].as_py() / close)) <= half_spread + 1e-5
        # the next day starts where this one ended (one trade-time step of a ~3% daily vol away)
        step = market.daily_vol[row + 1, column] / math.sqrt(tomorrow.num_rows)
        assert abs(math.log(tomorrow["price"][0].as_py() / close)) <= half_spread + 5 * step


def test_extending_the_period_or_adding_a_symbol_keeps_earlier_results() -> None:
    longer = SMALL.model_copy(update={"end": date(2024, 3, 1)})
    wider = SMALL.model_copy(update={"symbols": [*SMALL.symbols, "XRPUSDT"]})
    base_path = simulate_daily_path(SMALL)
    np.testing.assert_array_equal(simulate_daily_path(longer).iloc[: SMALL.n_days].to_numpy(),
                                  base_path.to_numpy())
    np.testing.assert_array_equal(simulate_daily_path(wider)[SMALL.symbols].to_numpy(), base_path.to_numpy())
    assert simulate_day(longer, "ETHUSDT", date(2024, 1, 9)).equals(simulate_day(SMALL, "ETHUSDT",
                                                                                 date(2024, 1, 9)))


def test_listing_and_delisting_bound_the_trading_days_and_ids_stay_contiguous() -> None:
    spec = SMALL.model_copy(update={"listings": {"DOGEUSDT": date(2024, 1, 4)},
                                    "delistings": {"ETHUSDT": date(2024, 1, 8)}})
    assert spec.trading_days("DOGEUSDT")[0] == date(2024, 1, 4)
    assert spec.trading_days("ETHUSDT")[-1] == date(2024, 1, 7)
    with pytest.raises(NotFoundError):
        simulate_day(spec, "DOGEUSDT", date(2024, 1, 3))
    with pytest.raises(NotFoundError):
        simulate_day(spec, "ETHUSDT", date(2024, 1, 8))
    with pytest.raises(NotFoundError):
        simulate_day(spec, "BTCUSDT", date(2024, 2, 1))
    first, second = (simulate_day(spec, "DOGEUSDT", date(2024, 1, 4) + timedelta(days=i)) for i in range(2))
    assert second["trade_id"][0].as_py() == first["trade_id"][-1].as_py() + 1
    assert latent_market(spec).n_trades[:3, 2].sum() == 0


def test_bad_specs_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        MarketSpec(start=date(2024, 2, 1), end=date(2024, 1, 1))
    with pytest.raises(ConfigError):
        MarketSpec(symbols=["A", "B"], base_prices={"C": 1.0})
