"""The run report: a tear sheet of one backtest (one module per section, assembled by ``tear_sheet``).

plotly is imported only when a figure is drawn, so importing this package stays light.
"""

from cde_backtest.report.benchmark import benchmark_nav
from cde_backtest.report.labels import format_metric
from cde_backtest.report.periods import drawdown_periods, monthly_returns, rolling_stats, warmup_end
from cde_backtest.report.tear_sheet import ReportInputs, build_report, report_page

__all__ = ["ReportInputs", "benchmark_nav", "build_report", "drawdown_periods", "format_metric",
           "monthly_returns", "report_page", "rolling_stats", "warmup_end"]
