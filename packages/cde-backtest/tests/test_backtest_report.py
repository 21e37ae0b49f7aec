"""The tear sheet of a real run (momentum_ls through the service, stored in a lake): it loads in headless
Chromium with no console messages and every chart drawn, the file stays small, and every number it
shows equals a slow reference computed here from the run's NAV and trade log."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd
import pytest
import report_oracles as oracle

from cde_backtest.models import BacktestRequest
from cde_backtest.report import build_report, drawdown_periods, monthly_returns
from cde_backtest.report.stored import stored_report_inputs
from cde_backtest.report.trades import round_trips
from cde_backtest.run_store import RunStore
from cde_backtest.service import run_on_panel
from cde_core.lake import Lake
from cde_core.visual import testing as page
from cde_core.visual.plotly_asset import PlotlyScript, asset_name

CHROMIUM = page.find_chromium()
CASH = 1_000_000.0
LOOKBACK = 240
CHART_KEYS = ("cumulative", "drawdown", "monthly", "rolling_sharpe", "rolling_volatility", "distribution",
              "exposure", "contributors")


@pytest.fixture(scope="module")
def run(tmp_path_factory, panel_factory):
    lake = Lake(tmp_path_factory.mktemp("lake"))
    panel = panel_factory(n_bars=24 * 100, n_symbols=8, seed=21)
    request = BacktestRequest(strategy="momentum_ls", bars="time-1h", exchange="binance", market="um",
                              params={"lookback": LOOKBACK, "n_long": 2, "n_short": 2},
                              engine={"costs": {"taker_bp": 4}, "initial_cash": CASH})
    result = run_on_panel(request, panel, lake)
    stored = RunStore(lake).load(result.run_id)
    return lake, stored, stored.report.read_text()


@pytest.fixture(scope="module")
def tables(run):
    return page.page_tables(run[2])


@pytest.fixture(scope="module")
def charts(run):
    return page.page_charts(run[2])


def _metric_rows(tables) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in tables["metrics"][1:]}


def test_report_loads_plotly_from_the_lake_asset_and_stays_small(run):
    lake, stored, html = run
    src = re.search(r'<script src="([^"]+)"', html).group(1)
    assert src == f"../../assets/{asset_name()}"
    assert (stored.path / src).resolve() == (lake.root / "assets" / asset_name()).resolve()
    assert (lake.root / "assets" / asset_name()).stat().st_size > 1_000_000  # the real bundle
    assert len(html.encode()) < 600_000  # was 5.4 MB with plotly.js inlined
    single = build_report(stored_report_inputs(stored), PlotlyScript.inline())
    assert "<script src=" not in single and len(single) > 3_000_000  # --self-contained: one file


def test_metrics_side_by_side_equal_a_slow_reference(run, tables):
    _, stored, _ = run
    nav, bench = stored.nav["nav"].tolist(), stored.nav["benchmark"].tolist()
    ppy = stored.metrics.periods_per_year
    rows = _metric_rows(tables)
    labels = {"total_return": "Total return", "cagr": "CAGR", "annual_volatility": "Volatility (annualised)",
              "sharpe": "Sharpe ratio", "sortino": "Sortino ratio", "max_drawdown": "Max drawdown",
              "calmar": "Calmar ratio"}
    for column, series in ((0, nav), (1, bench)):
        expected = oracle.summary_stats(series, CASH, ppy)
        for key, label in labels.items():
            shown = page.number(rows[label][column])
            tolerance = 0.00006 if "%" in rows[label][column] else 0.006
            assert shown == pytest.approx(expected[key], abs=tolerance), (label, column)
    relative = oracle.beta_alpha_corr(oracle.returns_of(nav, CASH), oracle.returns_of(bench, CASH), ppy)
    assert page.number(rows["Beta to benchmark"][0]) == pytest.approx(relative["beta"], abs=0.006)
    assert page.number(rows["Alpha (annualised)"][0]) == pytest.approx(relative["alpha"], abs=0.00006)
    assert page.number(rows["Correlation to benchmark"][0]) == pytest.approx(relative["correlation"], abs=0.006)
    assert rows["Fills"] == [f"{len(stored.trades):,}", "—"]


def test_parameters_data_and_warmup_are_shown(run, tables, charts):
    _, stored, _ = run
    setup = {row[0]: row[1] for row in tables["setup"][1:]}
    assert setup["strategy"] == "momentum_ls" and setup["lookback"] == str(LOOKBACK)
    assert setup["n_long"] == "2" and setup["engine.costs.taker_bp"] == "4.0"
    assert setup["bars"] == "bars/spec=time-1h" and setup["exchange / market"] == "binance / um"
    assert setup["symbols"].startswith("8: ")
    first_fill = stored.trades["ts"].min()
    bars_before = int((stored.nav.index < first_fill).sum())
    assert bars_before >= LOOKBACK  # the strategy cannot trade before its lookback is filled
    assert setup["warm-up"].startswith(f"{bars_before:,} bars")
    shapes = charts["cumulative"]["layout"]["shapes"]
    assert page.when(shapes[0]["x0"]) == stored.nav.index[0] and page.when(shapes[0]["x1"]) == first_fill


def test_monthly_returns_cover_only_the_run_and_equal_a_walk_over_the_nav(run, charts):
    _, stored, _ = run
    heat = charts["monthly"]["data"][0]
    expected = oracle.monthly(stored.nav["nav"], CASH)
    months = sorted({m for _, m in expected})
    assert heat["x"] == [pd.Timestamp(2000, m, 1).strftime("%b") for m in months]  # Jan-Apr, not 12 columns
    z = page.values(heat["z"])
    first_fill = stored.trades["ts"].min()
    for (year, month), value in expected.items():
        cell = heat["y"].index(str(year)), months.index(month)
        whole_month_flat = pd.Timestamp(year, month, 1, tz="UTC") + pd.offsets.MonthEnd(1) < first_fill
        if whole_month_flat:
            assert heat["text"][cell[0]][cell[1]] == "warm-up"
        else:
            assert z[cell] == pytest.approx(value, rel=1e-9, abs=1e-12)
            assert heat["text"][cell[0]][cell[1]] == f"{value * 100:.1f}%"


def test_monthly_returns_hand_computed():
    ts = pd.date_range("2024-01-31 23:00", periods=3, freq="30D", tz="UTC")  # Jan 31, Mar 1, Mar 31
    table = monthly_returns(pd.Series([110.0, 99.0, 120.0], index=ts), 100.0)
    assert list(table.columns) == [1, 2, 3]  # only the months of the run
    assert table.loc[2024, 1] == pytest.approx(0.10)
    assert np.isnan(table.loc[2024, 2])  # no bar in February
    assert table.loc[2024, 3] == pytest.approx(120.0 / 110.0 - 1)


def test_rolling_sharpe_starts_when_a_full_window_of_live_bars_is_in(run, charts):
    _, stored, _ = run
    trace = charts["rolling_sharpe"]["data"][0]
    window = int(re.search(r"\(([\d,]+) bars", charts["rolling_sharpe"]["title"]).group(1).replace(",", ""))
    x = [page.when(t) for t in page.values(trace["x"])]
    y = page.values(trace["y"])
    start = int(np.argmax(stored.nav.index >= stored.trades["ts"].min()))
    expected = oracle.rolling_sharpe(oracle.returns_of(stored.nav["nav"].tolist(), CASH), start, window,
                                     stored.metrics.periods_per_year)
    first = min(expected)
    assert x[0] == stored.nav.index[first]  # nothing drawn before the window is full
    shown = dict(zip(x, y, strict=True))
    for i in list(expected)[:: max(1, len(expected) // 50)]:
        assert shown[stored.nav.index[i]] == pytest.approx(expected[i], rel=1e-6)
    assert np.all(np.abs(y) < 20)  # no start-up spike
    vol = charts["rolling_volatility"]["data"][0]
    vol_shown = dict(zip([page.when(t) for t in page.values(vol["x"])], page.values(vol["y"]), strict=True))
    returns = oracle.returns_of(stored.nav["nav"].tolist(), CASH)
    for i in list(expected)[:: max(1, len(expected) // 20)]:
        chunk = returns[i - window + 1:i + 1]
        mean = sum(chunk) / window
        std = (sum((r - mean) ** 2 for r in chunk) / (window - 1)) ** 0.5
        assert vol_shown[stored.nav.index[i]] == pytest.approx(std * stored.metrics.periods_per_year ** 0.5, rel=1e-6)
    assert min(vol_shown) == stored.nav.index[first]


def test_drawdown_periods_equal_a_walk_over_the_nav(run, tables):
    _, stored, _ = run
    nav = stored.nav["nav"]
    step = nav.index[1] - nav.index[0]
    times = [nav.index[0], *(nav.index + step)]
    expected = oracle.drawdown_spells(times, [CASH, *nav.tolist()])
    got = drawdown_periods(nav, CASH)
    assert len(got) == len(expected)
    for row, spell in zip(got.itertuples(index=False), expected, strict=True):
        assert (row.start, row.trough) == (spell["start"], spell["trough"])
        assert (pd.isna(row.recovery) and spell["recovery"] is None) or row.recovery == spell["recovery"]
        assert row.depth == pytest.approx(spell["depth"]) and row.days == pytest.approx(spell["days"])
    assert max(s["days"] for s in expected) == pytest.approx(stored.metrics.max_drawdown_duration_days)
    shown = tables["drawdowns"][1:]
    assert len(shown) == min(10, len(expected))
    for row, spell in zip(shown, expected, strict=False):
        assert row[1] == spell["start"].strftime("%Y-%m-%d %H:%M")
        assert page.number(row[4]) == pytest.approx(spell["depth"], abs=0.00006)


def test_drawdown_periods_hand_computed():
    ts = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC")
    nav = pd.Series([100.0, 90.0, 95.0, 101.0, 80.0, 85.0], index=ts)  # from 100 cash
    got = drawdown_periods(nav, 100.0)
    deepest, first = got.iloc[0], got.iloc[1]
    assert deepest["depth"] == pytest.approx(80 / 101 - 1) and pd.isna(deepest["recovery"])
    assert deepest["start"] == ts[3] + pd.Timedelta(days=1) and deepest["trough"] == ts[4] + pd.Timedelta(days=1)
    assert first["depth"] == pytest.approx(-0.10) and first["recovery"] == ts[3] + pd.Timedelta(days=1)
    assert first["days"] == pytest.approx(3.0)  # NAV of bar k is valued at its close, ts[k] + 1 day
    assert first["start"] == ts[0] + pd.Timedelta(days=1)


def test_round_trips_equal_a_fill_by_fill_walk(run, tables):
    _lake, stored, _ = run
    last_close = stored.config["data"]["last_close"]
    expected = sorted(oracle.round_trip_pnls(stored.trades, last_close), key=lambda t: (t[0], t[1]))
    got = round_trips(stored.trades, last_close).sort_values(["symbol", "opened"], kind="stable")
    assert len(got) == len(expected) > 5
    for row, (sym, opened, pnl) in zip(got.itertuples(index=False), expected, strict=True):
        assert (row.symbol, row.opened) == (sym, opened)
        assert row.pnl == pytest.approx(pnl, rel=1e-9, abs=1e-6)
    best = sorted((t for t in expected if t[2] > 0), key=lambda t: -t[2])[:10]
    shown = [r for r in tables["trips"][1:]][: len(best)]
    for row, (sym, _, pnl) in zip(shown, best, strict=True):
        assert row[0] == sym and page.number(row[5]) == pytest.approx(pnl, abs=0.006)


def test_round_trips_split_a_flip_hand_computed():
    ts = pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC")
    trades = pd.DataFrame({"ts": ts, "symbol": ["A", "A", "A"], "side": ["buy", "sell", "buy"],
                           "qty": [2.0, 5.0, 3.0], "price": [10.0, 12.0, 11.0], "fee": [0.0, 1.0, 0.0],
                           "slippage": 0.0})
    trips = round_trips(trades, {"A": 11.0})
    assert list(trips["side"]) == ["long", "short"]
    assert trips["pnl"].tolist() == pytest.approx([2 * 2 - 0.4, 3 * 1 - 0.6])  # fee split 2:3
    assert trips["closed"].tolist() == [ts[1], ts[2]]


def test_daily_return_distribution_equals_end_of_day_navs(run, charts):
    _, stored, _ = run
    nav = stored.nav["nav"]
    first_fill = stored.trades["ts"].min()
    ends = {}
    for ts, v in nav.items():
        ends[ts.floor("D")] = v
    days = sorted(ends)
    expected = [ends[d] / ends[p] - 1 for p, d in itertools.pairwise(days)
                if d >= first_fill.floor("D") + pd.Timedelta(days=1)]
    got = page.values(charts["distribution"]["data"][0]["x"])
    assert got == pytest.approx(expected, rel=1e-9)


def test_axes_have_readable_tick_formats(charts):
    for key in ("cumulative", "drawdown", "rolling_volatility", "exposure"):
        assert charts[key]["layout"]["yaxis"]["tickformat"] == ".0%", key
    assert charts["distribution"]["layout"]["xaxis"]["tickformat"] == ".1%"
    assert charts["contributors"]["layout"]["xaxis"]["tickformat"] == ",.0f"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_report_renders_in_chromium_with_every_chart_drawn(run, tmp_path):
    _, stored, _ = run
    bad = tmp_path / "bad.html"  # the detector works: a page with an error is caught
    bad.write_text("<html><body><script>undefinedFunction();</script></body></html>")
    assert page.console_lines(page.chromium(["--dump-dom", bad.as_uri()], tmp_path / "profile").stderr)

    dom = page.chromium(["--dump-dom", stored.report.as_uri()], tmp_path / "profile")
    assert page.console_lines(dom.stderr) == []
    assert 'class="missing"' not in dom.stdout
    drawn = page.drawn_charts(dom.stdout)
    assert set(drawn) == set(CHART_KEYS)
    for key, markup in drawn.items():
        assert page.chart_has_data(markup), key

    moved = tmp_path / "mailed.html"  # a copy away from the lake's assets says why it has no charts
    moved.write_text(stored.report.read_text())
    lonely = page.chromium(["--dump-dom", moved.as_uri()], tmp_path / "profile")
    assert 'class="missing"' in lonely.stdout and "--self-contained" in lonely.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_report_screenshot_shows_coloured_charts(run, tmp_path):
    _, stored, _ = run
    shot = tmp_path / "shot.png"
    result = page.chromium(["--window-size=1200,4000", f"--screenshot={shot}", stored.report.as_uri()],
                           tmp_path / "profile")
    assert page.console_lines(result.stderr) == []
    assert shot.stat().st_size > 50_000
    try:
        from PIL import Image  # optional: only to count coloured pixels
    except ImportError:
        return
    image = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    colourful = (np.abs(image[..., 0] - image[..., 1]) + np.abs(image[..., 1] - image[..., 2])) > 60
    assert colourful.mean() > 0.01


@pytest.mark.parametrize("bars", [1, 50])
def test_a_run_that_never_trades_and_has_no_benchmark_still_draws(bars):
    from cde_backtest.metrics import compute_metrics
    from cde_backtest.report import ReportInputs

    ts = pd.date_range("2024-01-01", periods=bars, freq="h", tz="UTC")
    flat = np.full(bars, CASH)
    nav = pd.DataFrame({"nav": flat, "traded": 0.0, "gross": 0.0, "net": 0.0, "turnover": 0.0}, index=ts)
    metrics = compute_metrics(flat, ts.asi8, initial_cash=CASH, traded=np.zeros(bars), gross=np.zeros(bars),
                              net=np.zeros(bars))
    html = build_report(ReportInputs(title="flat", nav=nav, metrics=metrics, initial_cash=CASH,
                                     contributions=pd.DataFrame({"total": [0.0]}, index=pd.Index(["A"]))),
                        PlotlyScript("plotly.js"))
    setup = {row[0]: row[1] for row in page.page_tables(html)["setup"][1:]}
    assert setup["warm-up"] == "the strategy never traded"
    assert _metric_rows(page.page_tables(html))["Total return"] == ["0.00 %", "—"]
    assert "The NAV never fell below a previous peak." in html


def test_report_text_has_no_nan_undefined_infinity_or_null(run):
    """What a reader sees (scripts and styles aside): unset parameters read "none" (they read JSON's
    "null"), and no number renders as NaN, undefined or Infinity."""
    _, _, html = run
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    for word in ("null", "NaN", "nan", "undefined", "Infinity", "inf"):
        assert not re.search(rf"(?<![\w-]){word}(?![\w-])", text), word
    assert re.search(r"engine\.risk\.max_drawdown\s+none", text)


def test_the_basket_benchmark_holds_only_symbols_that_have_a_bar(tmp_path, panel_factory):
    """Equal-weight basket: at each bar the mean simple return of the symbols with a bar then (docs).
    A symbol delisted mid-run used to stay in the basket at its last price, a zero-return asset
    diluting the basket to the end; a missing bar's move counts on the symbol's next bar."""
    panel = panel_factory(n_bars=24 * 12, n_symbols=4, seed=8, late_listing=True, funding=False)
    times = panel.index.levels[0]
    dead = (panel.index.get_level_values("symbol") == "S01USDT") & (panel.index.get_level_values("ts") > times[150])
    hole = (panel.index.get_level_values("symbol") == "S02USDT") & (panel.index.get_level_values("ts") == times[40])
    panel = panel[~dead & ~hole]
    request = BacktestRequest(strategy="momentum_ls", bars="time-1h", exchange="binance", market="um",
                              params={"lookback": 24, "n_long": 1, "n_short": 1},
                              engine={"delist_after_bars": 5, "initial_cash": CASH})
    stored = RunStore(Lake(tmp_path / "lake")).load(run_on_panel(request, panel, Lake(tmp_path / "lake")).run_id)
    closes = {s: g.droplevel("symbol")["close"] for s, g in panel.groupby(level="symbol")}
    last: dict[str, float] = {}
    value, expected = CASH, []
    for k, t in enumerate(times):
        moves = []
        for s, series in closes.items():
            if t in series.index:
                if s in last and k > 0:
                    moves.append(series[t] / last[s] - 1)
                last[s] = series[t]
        if k > 0 and moves:
            value *= 1 + sum(moves) / len(moves)
        expected.append(value)
    np.testing.assert_allclose(stored.nav["benchmark"].to_numpy(), expected, rtol=1e-12)


def test_a_late_listed_benchmark_symbol_is_cash_until_its_first_close(tmp_path, panel_factory):
    """Buy and hold of a symbol listed after the run starts: cash until its first close, then the
    symbol. Its NAV was NaN before the listing, so every benchmark metric of the tear sheet was "—"."""
    panel = panel_factory(n_bars=24 * 10, n_symbols=4, seed=3, late_listing=True, funding=False)
    request = BacktestRequest(strategy="momentum_ls", bars="time-1h", exchange="binance", market="um",
                              params={"lookback": 24, "n_long": 1, "n_short": 1}, benchmark="S03USDT",
                              engine={"initial_cash": CASH})
    lake = Lake(tmp_path / "lake")
    stored = RunStore(lake).load(run_on_panel(request, panel, lake).run_id)
    late = panel.xs("S03USDT", level="symbol")["close"]
    bench = stored.nav["benchmark"]  # indexed by ts
    before = bench[bench.index < late.index[0]]
    assert len(before) > 0 and (before == CASH).all()
    np.testing.assert_allclose(bench.reindex(late.index).to_numpy(), (late / late.iloc[0] * CASH).to_numpy(),
                               rtol=1e-12)
    rows = _metric_rows(page.page_tables(stored.report.read_text()))
    assert rows["Total return"][1] == f"{(late.iloc[-1] / late.iloc[0] - 1) * 100:,.2f} %"
    assert rows["Sharpe ratio"][1] != "—"


def test_a_short_rolling_window_is_titled_in_hours_not_zero_days(tmp_path, panel_factory):
    """A 40-bar hourly run has a rolling window of a few hours: its title read "≈ 0 days"."""
    panel = panel_factory(n_bars=40, n_symbols=3, seed=2, late_listing=False, funding=False)
    request = BacktestRequest(strategy="momentum_ls", bars="time-1h", exchange="binance", market="um",
                              params={"lookback": 3, "n_long": 1, "n_short": 1},
                              engine={"rebalance": {"every": "bar"}})
    lake = Lake(tmp_path / "lake")
    stored = RunStore(lake).load(run_on_panel(request, panel, lake).run_id)
    title = page.page_charts(stored.report.read_text())["rolling_sharpe"]["title"]
    window = int(re.search(r"\(([\d,]+) bars", title).group(1))
    assert f"({window} bars ≈ {window} hours)" in title and "0 days" not in title
