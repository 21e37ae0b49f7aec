"""``Lake("s3://bucket/prefix")`` in a notebook reads and backtests like ``Lake("folder")``: the same
data written to a folder and to a bucket of the loopback S3 server gives equal frames and runs."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from cde import Lake

from cde_core.errors import NotFoundError
from cde_core.lake import Provenance
from cde_core.object_store import ObjectPath
from cde_core.schemas import TRADES_SCHEMA
from cde_core.testing.synthetic import hourly_time_bars

SYMBOLS = ["AAA", "BBB"]
HOURS = 24 * 15


def fill(lake: Lake) -> None:
    """Two days of trades of AAA and 15 days of random-walk 1 h bars of two symbols (seeded)."""
    rng = np.random.default_rng(2)
    for day in (date(2024, 3, 1), date(2024, 3, 2)):
        n = 500
        ts = pd.Timestamp(day, tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 86_400_000, n)), unit="ms")
        price, qty = 100 + rng.normal(0, 1, n), rng.uniform(0.1, 2, n)
        trades = pa.table({"ts": pa.array(ts.as_unit("us")), "trade_id": np.arange(n) + day.day * 1000,
                           "price": price, "qty": qty, "quote_qty": price * qty,
                           "is_buyer_maker": rng.random(n) < 0.5}, schema=TRADES_SCHEMA)
        lake.core.write_partition(lake.core.trades_dir("vendor", "spot", "AAA", day), trades,
                                  Provenance(source="test", rows=n))
    for k, symbol in enumerate(SYMBOLS):
        close = 100 * np.exp(np.cumsum(rng.normal(0.0003 * (k - 0.5), 0.01, HOURS)))
        table = hourly_time_bars(close, rng.uniform(1, 10, HOURS))
        lake.core.write_partition(lake.core.bars_dir("time-1h", "vendor", "spot", symbol) / "month=2024-03", table,
                                  Provenance(source="test", rows=HOURS))


def test_a_notebook_lake_in_a_bucket_reads_and_backtests_like_one_in_a_folder(tmp_path: Path,
                                                                              s3_lake_url: str) -> None:
    folder, bucket = Lake(tmp_path / "lake"), Lake(s3_lake_url)
    assert isinstance(bucket.root, ObjectPath) and bucket.core.is_object_store and repr(bucket) == \
        f"Lake('{s3_lake_url}')"
    for lake in (folder, bucket):
        fill(lake)
    day = bucket.trades("vendor", "spot", "AAA", start="2024-03-02", end="2024-03-02")
    assert len(day) == 500 and day["ts"].min() >= pd.Timestamp("2024-03-02", tz="UTC")
    pd.testing.assert_frame_equal(day, folder.trades("vendor", "spot", "AAA", start="2024-03-02", end="2024-03-02"))
    bars = bucket.read_bars("time-1h", "vendor", "spot")
    assert sorted(bars["symbol"].unique()) == SYMBOLS and len(bars) == 2 * HOURS
    pd.testing.assert_frame_equal(bars, folder.read_bars("time-1h", "vendor", "spot"))
    runs = {name: lake.backtest(strategy="trend_following", params={"fast": 6, "slow": 24}, bars=bars)
            for name, lake in (("folder", folder), ("bucket", bucket))}
    run = runs["bucket"]
    assert isinstance(run.folder, ObjectPath) and str(run.folder).startswith(s3_lake_url + "/runs/")
    assert run.metrics["n_trades"] > 0 and run.metrics == runs["folder"].metrics
    pd.testing.assert_frame_equal(run.nav, runs["folder"].nav)
    pd.testing.assert_frame_equal(run.trades, runs["folder"].trades)
    report = run.report()
    assert str(report.path) == f"{run.folder}/report.html"
    assert report._repr_html_().startswith("<iframe srcdoc=") and "plotly" in report.html.lower()
    with pytest.raises(NotFoundError, match=r"no bars spec 'time-4h'.*did you mean time-1h"):
        bucket.read_bars("time-4h", "vendor", "spot")


def test_a_misspelt_bucket_prefix_or_symbol_names_the_nearest_present(s3_lake_url: str) -> None:
    """Not "no trades of AAA — import them": the lake itself may be the misspelt part."""
    fill(Lake(s3_lake_url))
    bucket = ObjectPath(s3_lake_url).bucket
    with pytest.raises(NotFoundError, match=rf"the lake {s3_lake_url}x does not exist.*did you mean {s3_lake_url}\?"):
        Lake(s3_lake_url + "x").trades("vendor", "spot", "AAA")
    typo = bucket[:-1] + ("z" if bucket[-1] != "z" else "y")
    with pytest.raises(NotFoundError, match=rf"the bucket '{typo}' .*does not exist.*{bucket}"):
        Lake(s3_lake_url.replace(bucket, typo)).bars("time", interval="1h", exchange="vendor", market="spot",
                                                     symbols="AAA")
    with pytest.raises(NotFoundError, match=r"no symbol 'AAB'.*did you mean AAA"):
        Lake(s3_lake_url).bars("time", interval="1h", exchange="vendor", market="spot", symbols="AAB")
    with pytest.raises(NotFoundError, match=r"no market 'spt'.*did you mean spot"):
        Lake(s3_lake_url).read_bars("time-1h", "vendor", "spt")
