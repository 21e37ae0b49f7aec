"""The factor-analysis report (plotly): two factors side by side, every chart drawn in headless Chromium,
and the numbers it charts equal slow per-timestamp reference computations written here."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from cde_core.errors import DataError
from cde_core.visual import testing as page
from cde_core.visual.plotly_asset import PlotlyScript, asset_name
from cde_features.analysis.analyzer import analyze_factors
from cde_features.analysis.report import moving_average_window, render_html
from cde_features.synthetic import synthetic_panel

HORIZONS = [1, 4]
QUANTILES = 4
KINDS = ("ic", "ic_hist", "quantiles", "cumulative", "turnover")


@pytest.fixture(scope="module")
def study():
    panel = synthetic_panel(10, 400, seed=3)
    close = panel["close"]
    rng = np.random.default_rng(7)
    fwd = close.groupby(level=1).shift(-1) / close - 1
    features = pd.DataFrame({"informed": fwd + rng.normal(0, 0.01, len(panel)),
                             "noise": rng.normal(size=len(panel))}, index=panel.index)
    analysis = analyze_factors(features, close, horizons=HORIZONS, quantiles=QUANTILES)
    html = render_html(analysis, note="unit")
    return features, close, analysis, html, page.page_charts(html)


# -- slow references -----------------------------------------------------------------------------------


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    for r, i in enumerate(order, start=1):
        ranks[i] = float(r)
    return ranks


def _pearson(a: list[float], b: list[float]) -> float:
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True))
    return cov / math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b))


def _cross_sections(features: pd.DataFrame, close: pd.Series, column: str, h: int):
    """timestamp → {symbol: (factor, forward return)} with both known, walking each symbol's closes."""
    closes = {sym: s.droplevel(1) for sym, s in close.groupby(level=1)}
    out: dict[pd.Timestamp, dict[str, tuple[float, float]]] = {}
    for (ts, sym), value in features[column].items():
        series = closes[sym]
        k = series.index.get_loc(ts)
        if k + h < len(series) and np.isfinite(value):
            out.setdefault(ts, {})[sym] = (value, series.iloc[k + h] / series.iloc[k] - 1)
    return out


def rank_ic_by_time(features, close, column, h) -> dict[pd.Timestamp, float]:
    out = {}
    for ts, pairs in _cross_sections(features, close, column, h).items():
        if len(pairs) >= 3:
            f, r = zip(*pairs.values(), strict=True)
            out[ts] = _pearson(_ranks(list(f)), _ranks(list(r)))
    return out


def quantile_means(features, close, column, h) -> dict[pd.Timestamp, list[float]]:
    """Per timestamp, the mean forward return of each quantile (sorted by factor, split in equal parts)."""
    out = {}
    for ts, pairs in _cross_sections(features, close, column, h).items():
        n = len(pairs)
        if n < QUANTILES:
            continue
        ordered = sorted(pairs.values(), key=lambda p: p[0])
        groups: list[list[float]] = [[] for _ in range(QUANTILES)]
        for rank, (_, ret) in enumerate(ordered, start=1):
            groups[math.ceil(rank / n * QUANTILES) - 1].append(ret)
        out[ts] = [sum(g) / len(g) for g in groups]
    return out


# -- tests -----------------------------------------------------------------------------------------------


def test_report_lists_both_factors_side_by_side_with_every_chart(study):
    _, _, _analysis, html, charts = study
    expected = {"decay"} | {f"f{k}_{kind}" for k in range(2) for kind in KINDS}
    assert set(charts) == expected
    assert html.index('id="chart-f0_ic"') < html.index('id="chart-f1_ic"') < html.index('id="chart-f0_ic_hist"')
    summary = page.page_tables(html)["summary"]
    assert [row[0] for row in summary[1:]] == ["informed", "informed", "noise", "noise"]
    assert "<svg" not in html.split("<body>")[1]  # no hand-made SVG left


def test_rank_ic_series_and_moving_mean_equal_a_per_timestamp_reference(study):
    features, close, _analysis, _, charts = study
    expected = rank_ic_by_time(features, close, "informed", HORIZONS[0])
    raw, ma = charts["f0_ic"]["data"]
    x = [page.when(v) for v in page.values(raw["x"])]
    shown = dict(zip(x, page.values(raw["y"]), strict=True))
    assert len(expected) > 300
    for ts, value in expected.items():
        assert shown[ts] == pytest.approx(value, abs=1e-9)
    window = moving_average_window(pd.DatetimeIndex(x))
    series = [shown[t] for t in x]
    ma_values = page.values(ma["y"])
    assert np.isnan(ma_values[: window - 1]).all()  # the mean starts when its window is full
    k = window + 17
    assert ma_values[k] == pytest.approx(np.mean(series[k - window + 1:k + 1]), abs=1e-9)
    hist = page.values(charts["f0_ic_hist"]["data"][0]["x"])
    assert sorted(hist) == pytest.approx(sorted(expected.values()), abs=1e-9)


def test_ic_decay_equals_mean_rank_ic_per_horizon(study):
    features, close, _analysis, _, charts = study
    for k, column in enumerate(["informed", "noise"]):
        trace = charts["decay"]["data"][k]
        assert trace["name"] == column and trace["x"] == [str(h) for h in HORIZONS]
        for h, shown in zip(HORIZONS, page.values(trace["y"]), strict=True):
            values = list(rank_ic_by_time(features, close, column, h).values())
            assert shown == pytest.approx(sum(values) / len(values), abs=1e-9)


def test_quantile_returns_and_cumulative_spread_equal_the_reference(study):
    features, close, _, _, charts = study
    for h, trace in zip(HORIZONS, charts["f0_quantiles"]["data"], strict=True):
        per_t = quantile_means(features, close, "informed", h)
        expected = [sum(v[q] for v in per_t.values()) / len(per_t) * 1e4 for q in range(QUANTILES)]
        assert page.values(trace["y"]) == pytest.approx(expected, rel=1e-9)
    per_t = quantile_means(features, close, "informed", HORIZONS[0])
    times = sorted(features.index.get_level_values(0).unique())
    growth, spread = 1.0, 1.0
    for ts in times[:: HORIZONS[0]]:
        if ts in per_t:
            growth *= 1 + per_t[ts][-1]
            spread *= 1 + per_t[ts][-1] - per_t[ts][0]
    cumulative = charts["f0_cumulative"]["data"]
    assert cumulative[QUANTILES - 1]["name"] == f"Q{QUANTILES}"
    assert page.values(cumulative[QUANTILES - 1]["y"])[-1] == pytest.approx(growth - 1, rel=1e-9)
    assert page.values(cumulative[-1]["y"])[-1] == pytest.approx(spread - 1, rel=1e-9)
    assert spread > 1.5  # an informed factor's spread grows


def test_turnover_and_autocorrelation_equal_set_and_rank_references(study):
    features, _, _, _, charts = study
    wide = features["informed"].unstack(1)
    top, _, auto = charts["f0_turnover"]["data"]
    top_y, auto_y = page.values(top["y"]), page.values(auto["y"])
    previous, prev_ranks, checked = None, None, 0
    for k, (_, row) in enumerate(wide.iterrows()):
        ordered = sorted(row.dropna().items(), key=lambda p: p[1])
        n = len(ordered)
        members = {sym for rank, (sym, _) in enumerate(ordered, start=1)
                   if n >= QUANTILES and math.ceil(rank / n * QUANTILES) == QUANTILES}
        ranks = dict(zip([s for s, _ in ordered], range(1, n + 1), strict=True))
        if previous and members:
            assert top_y[k] == pytest.approx(1 - len(members & previous) / len(members), abs=1e-12)
        else:  # no quantiles at t or t - 1: no turnover to speak of
            assert np.isnan(top_y[k])
        common = sorted(set(ranks) & set(prev_ranks or {}))
        if len(common) >= 3:
            expected = _pearson([ranks[s] for s in common], [prev_ranks[s] for s in common])
            assert auto_y[k] == pytest.approx(expected, abs=1e-9)
            checked += 1
        previous, prev_ranks = members, ranks
    assert checked > 300


def test_report_file_uses_a_shared_plotly_next_to_it_or_the_lake(study, tmp_path):
    _, _, analysis, _, _ = study
    outside = tmp_path / "reports" / "f.html"
    outside.parent.mkdir()
    html = render_html(analysis, plotly=PlotlyScript.beside(outside, tmp_path / "lake"))
    assert re.search(r'<script src="([^"]+)"', html).group(1) == asset_name()
    assert (outside.parent / asset_name()).exists() and len(html) < 1_000_000
    inside = tmp_path / "lake" / "analysis" / "f.html"
    html = render_html(analysis, plotly=PlotlyScript.beside(inside, tmp_path / "lake"))
    assert re.search(r'<script src="([^"]+)"', html).group(1) == f"../assets/{asset_name()}"


@pytest.mark.skipif(page.find_chromium() is None, reason="chromium is not installed")
def test_report_renders_in_chromium_with_every_chart_drawn(study, tmp_path):
    _, _, _, html, charts = study
    target = tmp_path / "report.html"
    target.write_text(html)
    dom = page.chromium(["--dump-dom", target.as_uri()], tmp_path / "profile")
    assert page.console_lines(dom.stderr) == []
    drawn = page.drawn_charts(dom.stdout)
    assert set(drawn) == set(charts)
    for key, markup in drawn.items():
        assert page.chart_has_data(markup), key


# -- edges: ties, symbols coming and going, missing bars ---------------------------------------------------


def _tied_quantiles(pairs: dict[str, tuple[float, float]], q: int) -> dict[int, list[float]]:
    """Quantile → forward returns, by the slow rule: a symbol's quantile is ceil(average rank / n · q), so
    equal factor values share one."""
    values = [v for v, _ in pairs.values()]
    n = len(values)
    out: dict[int, list[float]] = {}
    for value, ret in pairs.values():
        below = sum(1 for v in values if v < value)
        equal = sum(1 for v in values if v == value)
        average_rank = below + (equal + 1) / 2
        out.setdefault(min(q, max(1, math.ceil(average_rank / n * q))), []).append(ret)
    return out


def test_tied_factor_values_share_a_quantile_and_a_constant_factor_has_no_spread():
    """A factor that does not tell symbols apart cannot rank them: a constant factor has no top-minus-
    bottom spread, no IC and no turnover (it used to split its ties alphabetically and report the
    spread between the last and the first symbol); a 0/1 flag puts all its 1s in one quantile."""
    panel = synthetic_panel(6, 120, seed=9)
    close = panel["close"]
    n_times = len(panel.index.levels[0])
    features = pd.DataFrame({"constant": 1.0,
                             "flag": np.tile([0.0, 0.0, 1.0, 1.0, 1.0, 1.0], n_times),
                             "coarse": np.round(np.random.default_rng(1).normal(size=len(panel)))},
                            index=panel.index)
    analysis = analyze_factors(features, close, horizons=[1], quantiles=3)
    table = analysis.table().set_index("column")
    assert math.isnan(table.loc["constant", "top_minus_bottom"]) and math.isnan(table.loc["constant", "ic_mean"])
    assert math.isnan(table.loc["constant", "turnover_top"])
    for column in ("flag", "coarse"):
        by_time = analysis.columns[list(features.columns).index(column)].quantile_returns_by_time[1]
        checked = 0
        for ts, pairs in _cross_sections(features, close, column, 1).items():
            expected = _tied_quantiles(pairs, 3)
            for q in (1, 2, 3):
                got = by_time.loc[ts, q]
                if q in expected:
                    assert got == pytest.approx(sum(expected[q]) / len(expected[q]), rel=1e-12), (column, ts, q)
                    checked += 1
                else:
                    assert math.isnan(got), (column, ts, q)
        assert checked > 100


def test_rank_autocorrelation_ranks_only_the_symbols_present_at_both_times():
    """Spearman of the factor at t and t − 1 over the symbols that have both: a symbol that left (value at
    t − 1 only) or joined (value at t only) must not shift the others' ranks (it made a perfectly
    persistent ranking look imperfect)."""
    ts = pd.date_range("2024-01-01", periods=3, freq="1h", tz="UTC")
    rows = {(ts[0], "A"): 1.0, (ts[0], "X"): 2.0, (ts[0], "B"): 3.0, (ts[0], "C"): 4.0,
            (ts[1], "A"): 1.0, (ts[1], "B"): 2.0, (ts[1], "C"): 3.0,                     # X delisted
            (ts[2], "A"): 3.0, (ts[2], "B"): 2.0, (ts[2], "C"): 1.0, (ts[2], "N"): 1.5}  # N listed
    index = pd.MultiIndex.from_tuples(list(rows), names=["ts", "symbol"])
    features = pd.DataFrame({"f": list(rows.values())}, index=index)
    close = pd.Series(100.0, index=index)
    series = analyze_factors(features, close, horizons=[1], quantiles=2).columns[0].autocorrelation_series
    assert series.loc[ts[1]] == pytest.approx(1.0)  # A < B < C both times: the same order
    assert series.loc[ts[2]] == pytest.approx(-1.0)  # A, B, C reversed; N is not in both


def test_a_missing_bar_is_a_gap_in_the_analysis_not_a_shortcut_to_the_next_bar():
    """Time bars analyse on their grid: an hour that no symbol has (an exchange outage) makes the 1-bar
    forward return before it NaN — not a 2-hour return — and turnover and autocorrelation after it NaN,
    as the features themselves treat a missing bar. The interval comes from the argument or from the
    panel's ``bar_interval`` mark (what the lake readers set)."""
    panel = synthetic_panel(5, 60, seed=4)
    times = panel.index.levels[0]
    outage = times[30]
    panel = panel[panel.index.get_level_values(0) != outage]
    close = panel["close"]
    features = pd.DataFrame({"f": np.log(close)}, index=panel.index)
    for kwargs in ({"bar_interval": "1h"}, {}):
        if not kwargs:
            features.attrs["bar_interval"] = pd.Timedelta("1h")
        col = analyze_factors(features, close, horizons=[1, 2], quantiles=2, **kwargs).columns[0]
        before, after = times[29], times[31]
        ic1, ic2 = col.ic[1]["rank_ic"], col.ic[2]["rank_ic"]
        assert math.isnan(ic1.get(before, math.nan)) and math.isnan(ic2.get(times[28], math.nan))
        # the 2-bar return from 29:00 spans the outage slot and ends at 31:00: a real 2-bar return
        cs = {s: (features.loc[(before, s), "f"], close.loc[(after, s)] / close.loc[(before, s)] - 1)
              for s in features.loc[before].index}
        f, r = zip(*cs.values(), strict=True)
        assert ic2.loc[before] == pytest.approx(_pearson(_ranks(list(f)), _ranks(list(r))))
        assert math.isnan(col.turnover["top"].get(after, math.nan))
        assert math.isnan(col.autocorrelation_series.get(after, math.nan))
    with pytest.raises(DataError, match="not on the 2h grid"):
        analyze_factors(features, close, horizons=[1], bar_interval="2h")


def test_features_and_closes_in_different_time_zones_are_matched_by_instant():
    """Zone-less features against UTC closes (or closes in another zone) used to match no row and give
    a table of NaN without a word; now both are UTC instants, and closes matching nothing is an error."""
    panel = synthetic_panel(5, 80, seed=6)
    close = panel["close"]
    features = pd.DataFrame({"f": np.log(close)}, index=panel.index)
    expected = analyze_factors(features, close, horizons=[1], quantiles=2).table()
    naive = features.set_axis(features.index.set_levels(features.index.levels[0].tz_localize(None), level=0))
    tokyo = close.set_axis(close.index.set_levels(close.index.levels[0].tz_convert("Asia/Tokyo"), level=0))
    for f, c in ((naive, close), (features, tokyo), (naive, tokyo)):
        pd.testing.assert_frame_equal(analyze_factors(f, c, horizons=[1], quantiles=2).table(), expected)
    other = close.rename(lambda s: s + "X", level="symbol")
    with pytest.raises(DataError, match="no close matches a feature row"):
        analyze_factors(features, other, horizons=[1])


def test_an_infinite_factor_value_is_missing_in_every_statistic():
    """±inf in a factor column counts as missing everywhere: the Pearson IC skipped it while the rank
    IC, the quantiles and the turnover ranked it as the largest value."""
    panel = synthetic_panel(6, 120, seed=12)
    close = panel["close"]
    rng = np.random.default_rng(4)
    values = rng.normal(size=len(panel))
    holes = rng.random(len(panel)) < 0.1
    with_inf = pd.DataFrame({"f": np.where(holes, np.inf, values)}, index=panel.index)
    with_nan = pd.DataFrame({"f": np.where(holes, np.nan, values)}, index=panel.index)
    got = analyze_factors(with_inf, close, horizons=[1, 3], quantiles=3).table()
    pd.testing.assert_frame_equal(got, analyze_factors(with_nan, close, horizons=[1, 3], quantiles=3).table())


def test_a_repeated_feature_row_is_an_error_naming_it():
    """A features frame with a (ts, symbol) twice (two files concatenated) failed inside pandas'
    unstack with "Index contains duplicate entries, cannot reshape"."""
    panel = synthetic_panel(4, 30, seed=1)
    features = pd.DataFrame({"f": np.log(panel["close"])}, index=panel.index)
    doubled = pd.concat([features, features.iloc[[5]]]).sort_index()
    ts, symbol = features.index[5]
    with pytest.raises(DataError, match=re.escape(f"the features frame has duplicate rows for {symbol} at {ts}")):
        analyze_factors(doubled, panel["close"], horizons=[1])
