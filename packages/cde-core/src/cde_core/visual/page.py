"""One HTML page of plotly charts and tables, shared by every cde report.

The figures travel as one JSON document (``<script type="application/json" id="cde-charts">``) that a
short script hands to ``Plotly.newPlot``; the same JSON is what the ``/visual/…/data`` routes return,
so a front end draws exactly what the page draws.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cde_core.visual.plotly_asset import PlotlyScript

#: shared by every figure; set here instead of a plotly template (a template is ~10 kB per figure)
BASE_LAYOUT: dict[str, Any] = {
    "height": 340, "margin": {"l": 60, "r": 30, "t": 30, "b": 40}, "paper_bgcolor": "white",
    "plot_bgcolor": "white", "font": {"family": "system-ui, sans-serif", "size": 12},
    "legend": {"orientation": "h", "y": 1.08, "x": 0}, "hovermode": "x unified",
}
AXIS_STYLE: dict[str, Any] = {"gridcolor": "#eceff1", "zerolinecolor": "#b0bec5", "linecolor": "#cfd8dc",
                              "automargin": True}


def figure_json(figure: Any) -> dict[str, Any]:
    """A plotly figure as a JSON-ready dict (numpy arrays as plotly's typed arrays), without a template."""
    import plotly.io as pio

    spec: dict[str, Any] = json.loads(pio.to_json(figure, validate=False))
    layout = spec.setdefault("layout", {})
    layout.pop("template", None)
    for key, value in BASE_LAYOUT.items():
        layout.setdefault(key, value)
    for name in [k for k in layout if k.startswith(("xaxis", "yaxis"))] or []:
        layout[name] = {**AXIS_STYLE, **layout[name]}
    for name in ("xaxis", "yaxis"):
        layout.setdefault(name, dict(AXIS_STYLE))
    return spec


def epoch_ms(index: Any) -> Any:
    """Times as float milliseconds since the epoch (UTC), for a ``type="date"`` axis.

    plotly.js reads such numbers as UTC dates; sent as a typed array they take ~11 bytes a point
    instead of ~28 for ISO strings, which is most of a tear sheet's size."""
    import numpy as np
    import pandas as pd

    stamps = pd.DatetimeIndex(index)
    if stamps.tz is not None:
        stamps = stamps.tz_convert("UTC").tz_localize(None)
    return stamps.asi8.astype(np.float64) / {"ns": 1e6, "us": 1e3, "ms": 1.0, "s": 1e-3}[stamps.unit]


@dataclass
class Chart:
    """A plotly figure with its section title and an optional note under the title."""

    key: str
    title: str
    figure: Any
    note: str = ""
    wide: bool = True


@dataclass
class Section:
    """A titled block of ready HTML (tables, notes)."""

    title: str
    body: str
    wide: bool = True


@dataclass
class Page:
    title: str
    subtitle: str = ""
    blocks: list[Chart | Section] = field(default_factory=list)
    notice: str = ""

    def charts(self) -> dict[str, dict[str, Any]]:
        """Every chart's figure JSON by key (the ``/data`` routes answer this)."""
        return {b.key: {"title": b.title, **figure_json(b.figure)} for b in self.blocks if isinstance(b, Chart)}

    def render(self, plotly: PlotlyScript) -> str:
        charts = self.charts()
        parts = []
        for block in self.blocks:
            css = "block wide" if block.wide else "block"
            if isinstance(block, Chart):
                note = f'<p class="note">{html.escape(block.note)}</p>' if block.note else ""
                parts.append(f'<section class="{css}"><h2>{html.escape(block.title)}</h2>{note}'
                             f'<div class="chart" id="chart-{block.key}" data-chart="{block.key}"></div></section>')
            else:
                parts.append(f'<section class="{css}"><h2>{html.escape(block.title)}</h2>{block.body}</section>')
        data = json.dumps(charts, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
        notice = f'<div class="notice">{self.notice}</div>' if self.notice else ""
        return _PAGE.format(title=html.escape(self.title), subtitle=html.escape(self.subtitle), notice=notice,
                            blocks="\n".join(parts), data=data, plotly=plotly.tag(),
                            src=html.escape(plotly.src or "inline"))


def table_html(header: Sequence[str], rows: Sequence[Sequence[str]], *, css: str = "data") -> str:
    """A plain HTML table; cells are escaped text, the first column left-aligned."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
*, *::before, *::after {{ box-sizing: border-box; }}
body {{ font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1180px; color: #222; padding: 0 12px; }}
h1 {{ margin-bottom: 0; font-size: 1.5em; }} .sub {{ color: #666; margin-top: 4px; }}
h2 {{ font-size: 1.05em; margin: 6px 0 4px; }} .note {{ color: #666; font-size: .85em; margin: 0 0 4px; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 18px 24px; }}
.block {{ min-width: 0; overflow-x: auto; }} .block.wide {{ grid-column: 1 / -1; }} .chart {{ min-height: 340px; }}
table {{ border-collapse: collapse; font-size: .9em; font-variant-numeric: tabular-nums; }}
th, td {{ padding: 3px 10px; border-bottom: 1px solid #eceff1; text-align: right; }}
th {{ background: #f5f7f8; }} td {{ white-space: nowrap; }} table.setup td {{ white-space: normal; }}
td:first-child, th:first-child {{ text-align: left; }}
.notice {{ background: #fff8e1; border: 1px solid #ffe082; padding: 8px 12px; margin: 12px 0; }}
.missing {{ background: #ffebee; border: 1px solid #ef9a9a; padding: 8px 12px; }}
</style>
{plotly}
</head>
<body><h1>{title}</h1><p class="sub">{subtitle}</p>{notice}
<div class="grid">
{blocks}
</div>
<script type="application/json" id="cde-charts">{data}</script>
<script>
(function () {{
  var charts = JSON.parse(document.getElementById("cde-charts").textContent);
  if (typeof Plotly === "undefined") {{
    var warning = document.createElement("p");
    warning.className = "missing";
    warning.textContent = 'plotly.js could not be loaded from "{src}"; keep the page beside its assets '
      + "folder or write it with --self-contained.";
    document.body.insertBefore(warning, document.body.firstChild);
    return;
  }}
  Object.keys(charts).forEach(function (key) {{
    var spec = charts[key];
    Plotly.newPlot("chart-" + key, spec.data, spec.layout, {{displaylogo: false, responsive: true}});
  }});
}})();
</script>
</body></html>
"""
