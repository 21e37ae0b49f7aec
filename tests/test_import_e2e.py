"""``cde import trades`` end to end with real ``cde`` processes: the mlfinlab tick sample goes in with one
command, ``cde lake ls|verify`` accept it, and ``cde aggregate`` on the lake gives the bars ``build_bars``
gives on the same data frame; a bad file is one line naming file and line, with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.conftest import CliRunner

#: ../shared/data/real beside the repository (or beside the folder of work trees holding it)
_ROOT = Path(__file__).resolve().parents[1]
_CANDIDATES = [base / "shared" / "data" / "real" / "mlfinlab_tick_data.csv"
               for base in (_ROOT.parent, _ROOT.parent.parent)]
SAMPLE = next((path for path in _CANDIDATES if path.exists()), _CANDIDATES[0])
COLUMNS = "ts=Date and Time,price=Price,qty=Volume"


def tick_rule_loop(prices: list[float]) -> list[bool]:
    """is_buyer_maker by the tick rule, one trade at a time (first trades: buyer-initiated)."""
    out, side, last = [], 1, None
    for p in prices:
        if last is not None and p != last:
            side = 1 if p > last else -1
        out.append(side < 0)
        last = p
    return out


def sample_frame() -> pd.DataFrame:
    """The sample as a user would load it for ``build_bars`` (PROVENANCE.md: 100 E-mini trades, 2011-07-31,
    columns ``Date and Time,Price,Volume``; times without a zone, taken as UTC)."""
    raw = pd.read_csv(SAMPLE)
    return pd.DataFrame({"ts": pd.to_datetime(raw["Date and Time"], format="%Y/%m/%d %H:%M:%S.%f", utc=True),
                         "trade_id": range(1, len(raw) + 1), "price": raw["Price"].astype(float),
                         "qty": raw["Volume"].astype(float),
                         "is_buyer_maker": tick_rule_loop(raw["Price"].astype(float).tolist())})


def lake_bars(lake: Path, spec: str) -> pd.DataFrame:
    parts = sorted((lake / "bars" / f"spec={spec}").rglob("part-0.parquet"))
    frame = pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True)
    return frame.drop(columns=[c for c in frame.columns if c in ("exchange", "market", "symbol", "month")])


@pytest.mark.skipif(not SAMPLE.exists(), reason="real sample data absent (/work/shared/data/real)")
@pytest.mark.parametrize(("bar", "options"), [("tick", ["--threshold", "10"]), ("volume", ["--threshold", "20"]),
                                               ("dollar", ["--threshold", "30000"]),
                                               ("time", ["--interval", "1m"])])
def test_mlfinlab_sample_in_one_command_gives_build_bars(run_cde: CliRunner, tmp_path: Path, bar: str,
                                                          options: list[str]) -> None:
    from cde_bars import build_bars

    done = run_cde("import", "trades", str(SAMPLE), "--exchange", "cme", "--market", "futures", "--symbol", "ES",
                   "--columns", COLUMNS)
    assert done.returncode == 0, done.stderr
    assert "100 trades in 1 day" in done.stdout and "tick rule" in done.stdout
    ls = run_cde("lake", "ls", "--json")
    (item,) = json.loads(ls.stdout)
    assert (item["exchange"], item["symbol"], item["rows"], item["first_date"]) == ("cme", "ES", 100, "2011-07-31")
    assert run_cde("lake", "verify").returncode == 0
    agg = run_cde("aggregate", "--bar", bar, *options, "--exchange", "cme", "--market", "futures", "--symbols", "ES",
                  "--start", "2011-07-31", "--end", "2011-07-31", "--flush", "--json")
    assert agg.returncode == 0, agg.stderr
    spec = json.loads(agg.stdout)["spec_id"]
    params = {"threshold": float(options[1])} if bar != "time" else {"interval": options[1]}
    want = build_bars(sample_frame(), bar, flush=True, **params)
    got = lake_bars(tmp_path / "lake", spec)
    pd.testing.assert_frame_equal(got[want.columns].reset_index(drop=True), want.reset_index(drop=True))
    if bar == "tick":  # hand-checked against the file: ten bars of ten trades, the first from rows 2-11
        raw = pd.read_csv(SAMPLE)
        first = raw["Price"].iloc[:10]
        assert len(got) == 10 and (got["n_trades"] == 10).all()
        assert (got.loc[0, "open"], got.loc[0, "high"], got.loc[0, "low"], got.loc[0, "close"]) == (
            first.iloc[0], first.max(), first.min(), first.iloc[-1])


def test_a_bad_file_is_one_line_naming_file_and_line(run_cde: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("time,price,qty\n2024-01-01T00:00:01,100,1\n2024-01-01T00:00:02,nan,1\n")
    done = run_cde("import", "trades", str(path), "--exchange", "me", "--market", "spot", "--symbol", "X",
                   "--columns", "ts=time")
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "mine.csv" in lines[0] and "line 3" in lines[0] and "Traceback" not in done.stderr
    assert "nothing of this import was written" in lines[0]
    assert not list((tmp_path / "lake").rglob("*.parquet"))
    numbers = tmp_path / "epoch.csv"
    numbers.write_text("time,price,qty\n1704067200000,100,1\n")
    done = run_cde("import", "trades", str(numbers), "--exchange", "me", "--market", "spot", "--symbol", "X",
                   "--columns", "ts=time")
    assert done.returncode != 0 and "--ts-unit" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def synthetic_trade_csv(path: Path, days: int = 9, per_day: int = 3000, seed: int = 5) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    n = days * per_day
    ts = np.sort(1_704_067_200_000 + rng.integers(0, days * 86_400_000, n))
    price = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    pd.DataFrame({"ts": ts, "price": price.round(4), "qty": rng.uniform(0.01, 2, n).round(4),
                  "is_buyer_maker": rng.random(n) < 0.5}).to_csv(path, index=False)


def test_imported_bars_are_the_aggregated_bars_for_features(run_cde: CliRunner, tmp_path: Path) -> None:
    """Bars exported from `cde aggregate` and imported back with `cde import bars` hold the same values, and
    `cde features compute` on them gives the features of the aggregated bars."""
    trades = tmp_path / "trades.csv"
    synthetic_trade_csv(trades)
    lake = tmp_path / "lake"
    assert run_cde("import", "trades", str(trades), "--exchange", "me", "--market", "spot", "--symbol", "AAA",
                   "--ts-unit", "ms").returncode == 0
    agg = run_cde("aggregate", "--bar", "time", "--interval", "1h", "--exchange", "me", "--market", "spot",
                  "--symbols", "AAA", "--start", "2024-01-01", "--end", "2024-01-09", "--json")
    assert agg.returncode == 0, agg.stderr
    spec = json.loads(agg.stdout)["spec_id"]
    built = lake_bars(lake, spec)
    export = tmp_path / "bars.parquet"
    candles = built.drop(columns=["ts", "ts_close", "first_trade_id", "last_trade_id"]).rename(
        columns={"period_start": "open_time"})
    import pyarrow as pa

    pq.write_table(pa.Table.from_pandas(candles, preserve_index=False), export)
    done = run_cde("import", "bars", str(export), "--exchange", "me", "--market", "spot", "--symbol", "AAA",
                   "--columns", "ts=open_time")
    assert done.returncode == 0, done.stderr
    assert "bars/spec=imported-1h" in done.stdout and "derived: ts_close" in done.stdout
    assert "derived: buy_volume" not in done.stdout  # the file has it
    imported = lake_bars(lake, "imported-1h")
    same = [c for c in built.columns if c not in ("ts", "ts_close", "first_trade_id", "last_trade_id")]
    pd.testing.assert_frame_equal(imported[same], built[same])
    for bars in (spec, "imported-1h"):
        out = run_cde("features", "compute", "--bars", bars, "--exchange", "me", "--market", "spot",
                      "--out-spec", f"f-{bars}")
        assert out.returncode == 0, out.stderr
    mine = pq.read_table(lake / "features" / "spec=f-imported-1h").to_pandas()
    theirs = pq.read_table(lake / "features" / f"spec=f-{spec}").to_pandas()
    assert mine.shape == theirs.shape and mine.shape[0] == len(built)
    pd.testing.assert_frame_equal(mine, theirs)
