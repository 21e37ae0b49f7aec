"""Bars and features with ``data_root: s3://bucket/prefix``: the same trades taken through aggregate →
features compute → factor analysis, and read back through the REST and ``/visual`` routes, give the
same values on the loopback S3 server as on a local folder (the folder run is the oracle)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.compute as pc
from fastapi.testclient import TestClient

from cde_bars import AggregateRequest, aggregate_lake
from cde_core.config import CdeConfig
from cde_core.lake import Lake, Provenance
from cde_core.local_executor import LocalExecutor, LocalExecutorParams
from cde_core.object_store import ObjectPath
from cde_core.testing import synthetic_trades
from cde_features.lake_io import read_features
from cde_features.service import AnalyzeRequest, ComputeRequest, analyze_request, compute_to_lake
from cde_server.api.app import create_app

SYMBOLS = ["AAAUSDT", "BBBUSDT"]
FIRST, LAST = date(2024, 1, 30), date(2024, 2, 2)  # two months, so resume and month files are exercised


def write_trades(lake: Lake, symbol: str, seed: int) -> None:
    """Four days of synthetic trades, one partition per UTC day."""
    trades = synthetic_trades(40_000, seed=seed, start=FIRST.isoformat(), seconds=4 * 86_400)
    days = pc.strftime(trades.column("ts"), format="%Y-%m-%d").to_pylist()
    for day in sorted(set(days)):
        part = trades.filter(pc.equal(pc.strftime(trades.column("ts"), format="%Y-%m-%d"), day))
        lake.write_partition(lake.trades_dir("binance", "spot", symbol, date.fromisoformat(day)), part,
                             Provenance(source="test", rows=part.num_rows,
                                        first_trade_id=part.column("trade_id")[0].as_py(),
                                        last_trade_id=part.column("trade_id")[-1].as_py()))


def pipeline(root: str) -> dict[str, Any]:
    """Every output of the bars and features stages for a lake at ``root``."""
    lake = Lake(root)
    for seed, symbol in enumerate(SYMBOLS):
        write_trades(lake, symbol, seed)
    request = AggregateRequest(bar="time", params={"interval": "1h"}, exchange="binance", market="spot",
                               symbols=SYMBOLS, start=FIRST, end=LAST, batch_rows=4096)
    executor = LocalExecutor(LocalExecutorParams(kind="thread", max_workers=2))
    report = aggregate_lake(request, lake=lake, executor=executor)
    again = aggregate_lake(request, lake=lake, executor=executor)
    spec = report.spec_id
    computed = compute_to_lake(ComputeRequest(bars=spec, factors=["returns", "rsi"]), lake=lake)
    assert all(f.startswith(f"{root}/features/") for f in computed.files)
    computed.files = [f.removeprefix(root) for f in computed.files]
    features = read_features(lake, computed.spec, "binance", "spot")
    analysis = analyze_request(AnalyzeRequest(bars=spec, features=computed.spec, columns=["ret_log_24", "rsi_14"],
                                              horizons=[1, 6], quantiles=3), lake=lake)
    with TestClient(create_app(CdeConfig(data_root=root))) as client:
        routes = {path: client.get(path, params=params) for path, params in [
            (f"/bars/{spec}/binance/spot/AAAUSDT", {"limit": 10_000}),
            (f"/visual/bars/{spec}/binance/spot/BBBUSDT/data", {"start": "2024-01-31"}),
            ("/visual/features/analysis/data", {"bars": spec, "features": computed.spec, "columns": ["ret_log_24"],
                                                "horizons": [1, 6], "quantiles": 3})]}
        page = client.get(f"/visual/bars/{spec}/binance/spot/AAAUSDT")
    assert all(answer.status_code == 200 for answer in routes.values()), {p: a.text for p, a in routes.items()}
    assert page.status_code == 200 and "<html" in page.text.lower()
    return {"report": report.model_dump(exclude={"seconds"}), "again": [s.status for s in again.symbols],
            "computed": computed.model_dump(), "features": features, "analysis": analysis.table(),
            "routes": {path: answer.json() for path, answer in routes.items()}}


def test_bars_and_features_in_a_bucket_equal_those_on_disk(tmp_path: Path, s3_lake_url: str) -> None:
    disk = pipeline(str(tmp_path / "lake"))
    bucket = pipeline(s3_lake_url)
    assert isinstance(Lake(s3_lake_url).root, ObjectPath)
    assert [s["status"] for s in bucket["report"]["symbols"]] == ["built", "built"]
    assert sum(s["bars"] for s in bucket["report"]["symbols"]) > 150 and bucket["again"] == ["up-to-date", "up-to-date"]
    assert bucket["report"] == disk["report"]
    assert bucket["computed"] == disk["computed"]
    pd.testing.assert_frame_equal(bucket["features"], disk["features"])
    pd.testing.assert_frame_equal(bucket["analysis"], disk["analysis"])
    assert bucket["routes"] == disk["routes"]
    assert len(bucket["routes"][next(iter(bucket["routes"]))]) == 4 * 24  # every hourly bar of AAAUSDT
