"""The HTML report: self-contained, loads in headless Chromium with no console messages, and the
screenshot shows the charts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cde_backtest.costs import CostParams
from cde_backtest.engines.cross_sectional import CrossSectionalEngine, CrossSectionalParams
from cde_backtest.report import benchmark_nav, build_report, monthly_returns

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
                 if p and Path(p).exists()), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=8000"]


@pytest.fixture(scope="module")
def report_html(panel_factory):
    panel = panel_factory(n_bars=24 * 75, n_symbols=8, seed=21)
    weights = panel["close"].groupby(level="symbol").pct_change(48).fillna(0.0)
    result = CrossSectionalEngine().run(panel, weights, CrossSectionalParams(costs=CostParams(taker_bp=4)))
    nav = result.nav
    close = pd.DataFrame(result.simulation.marks, index=nav.index, columns=result.simulation.market.symbols)
    nav["benchmark"] = benchmark_nav(close, 1_000_000.0).to_numpy()
    return build_report(title="test run", nav=nav, contributions=result.contributions, metrics=result.metrics,
                        initial_cash=1_000_000.0)


def test_backtest_report_is_self_contained(report_html):
    assert "<script src=" not in report_html.replace('<script src="data:', "")  # no external scripts
    assert report_html.count('class="plotly-graph-div"') == 6
    for title in ("NAV vs benchmark", "Drawdown", "Monthly returns", "Rolling Sharpe", "Exposure and turnover",
                  "Top contributors", "sharpe", "max_drawdown"):
        assert title in report_html


def test_backtest_monthly_returns_hand_computed():
    ts = pd.date_range("2024-01-31 23:00", periods=3, freq="30D", tz="UTC")  # Jan 31, Mar 1, Mar 31
    nav = pd.Series([110.0, 99.0, 120.0], index=ts)
    table = monthly_returns(nav, 100.0)
    assert table.loc[2024, 1] == pytest.approx(0.10)
    assert np.isnan(table.loc[2024, 2])  # no bar in February
    assert table.loc[2024, 3] == pytest.approx(120.0 / 110.0 - 1)


def _chromium(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=180)


def _console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_backtest_report_loads_in_chromium_without_console_errors(report_html, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(report_html)
    # the detector works: a page with an error is caught
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>undefinedFunction();</script></body></html>")
    assert _console_lines(_chromium(["--dump-dom", bad.as_uri()], tmp_path).stderr)

    dom = _chromium(["--dump-dom", page.as_uri()], tmp_path)
    assert _console_lines(dom.stderr) == []
    assert dom.stdout.count('class="main-svg"') >= 6  # plotly drew every chart
    shot = tmp_path / "shot.png"
    run = _chromium(["--window-size=1200,2600", f"--screenshot={shot}", page.as_uri()], tmp_path)
    assert _console_lines(run.stderr) == []
    assert shot.stat().st_size > 50_000
    try:
        from PIL import Image  # optional: only to count coloured pixels
    except ImportError:
        return
    image = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    # charts put many non-white, non-grey pixels on the page (lines, heat map, bars)
    colourful = (np.abs(image[..., 0] - image[..., 1]) + np.abs(image[..., 1] - image[..., 2])) > 60
    assert colourful.mean() > 0.01
