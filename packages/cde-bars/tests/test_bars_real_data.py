"""Real trades (mlfinlab's 100-trade E-mini sample): the first bar's OHLC matches the values
mlfinlab's standard-bar tests assert, for tick, volume and dollar bars with the same thresholds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cde_bars import build_bars

SAMPLE = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "real" / "mlfinlab_tick_data.csv"


@pytest.fixture(scope="module")
def trades() -> pd.DataFrame:
    if not SAMPLE.exists():
        pytest.skip(f"real sample not available: {SAMPLE}")
    raw = pd.read_csv(SAMPLE)
    return pd.DataFrame({"ts": pd.to_datetime(raw["Date and Time"], format="%Y/%m/%d %H:%M:%S.%f", utc=True),
                         "price": raw["Price"].astype(float), "qty": raw["Volume"].astype(float),
                         "is_buyer_maker": False})


@pytest.mark.parametrize(("bar", "threshold", "close"), [("tick", 10, 1304.5), ("volume", 30, 1304.75),
                                                          ("dollar", 100_000, 1304.5)])
def test_first_bar_matches_mlfinlab_reference(trades: pd.DataFrame, bar: str, threshold: float,
                                              close: float) -> None:
    bars = build_bars(trades, bar, threshold=threshold, flush=False)
    first = bars.iloc[0]
    assert (first.open, first.high, first.low, first.close) == (1205.0, 1904.75, 1005.0, close)


def test_tick_bars_of_ten_cover_the_sample_exactly(trades: pd.DataFrame) -> None:
    bars = build_bars(trades, "tick", threshold=10)
    assert len(bars) == 10 and (bars["n_trades"] == 10).all()
    assert bars["volume"].sum() == trades["qty"].sum()
    assert bars["last_trade_id"].tolist() == list(range(9, 100, 10))


def test_volume_bars_close_on_the_trade_that_reaches_the_threshold(trades: pd.DataFrame) -> None:
    bars = build_bars(trades, "volume", threshold=30, flush=False)
    cumulative = trades["qty"].cumsum()
    first_end = int(bars.iloc[0]["last_trade_id"])
    assert cumulative[first_end] >= 30 > cumulative[first_end - 1]
