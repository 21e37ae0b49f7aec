"""A finished backtest in a notebook: its numbers, its stored frames and its report inline."""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd

from cde_core.lake_location import LakePath, arrow_target, lake_location


class Report:
    """The run's HTML report; Jupyter shows it inline (``_repr_html_``: the page in an iframe)."""

    def __init__(self, path: LakePath, height: int = 900) -> None:
        self.path = path
        self.height = height

    def __repr__(self) -> str:
        return f"Report({str(self.path)!r})"

    @property
    def html(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def _repr_html_(self) -> str:
        # srcdoc keeps the report's own scripts and styles apart from the notebook's
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" style="width:100%;'
                f'height:{self.height}px;border:0" title="cde backtest report"></iframe>')


class Run:
    """What ``lake.backtest(...)`` returns: ``result`` (the service's result model), ``metrics``, the
    stored ``nav`` / ``positions`` / ``trades`` frames, and :meth:`report`."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.run_id: str = result.run_id
        self.folder: LakePath = lake_location(result.run_dir)

    def __repr__(self) -> str:
        return f"Run({self.run_id!r})"

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.result.metrics.model_dump())

    def frame(self, name: str) -> pd.DataFrame:
        """A stored frame of the run folder: ``nav``, ``positions``, ``trades`` …"""
        import pyarrow.parquet as pq

        where, filesystem = arrow_target(self.folder / f"{name}.parquet")
        frame: pd.DataFrame = pq.read_table(where, filesystem=filesystem).to_pandas()
        return frame

    @property
    def nav(self) -> pd.DataFrame:
        return self.frame("nav")

    @property
    def trades(self) -> pd.DataFrame:
        return self.frame("trades")

    def report(self, height: int = 900) -> Report:
        return Report(lake_location(self.result.report), height=height)

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
                       for k, v in self.metrics.items() if not isinstance(v, dict | list))
        return f"<b>run {html.escape(self.run_id)}</b><table>{rows}</table>"


def _fmt(value: Any) -> str:
    """A metric for the table: undefined (NaN, e.g. the Sharpe of a run that never traded) is "—" and
    infinite is "∞", as in the tear sheet, never "nan" / "inf"."""
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        return f"{value:,.4f}"
    return str(value)
