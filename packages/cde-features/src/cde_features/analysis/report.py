"""A self-contained HTML report of a factor analysis: plain tables and inline SVG (works offline)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from cde_features.analysis.analyzer import ColumnAnalysis, FactorAnalysis

_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;
margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}
td:first-child{text-align:left}h2{margin-top:2em;border-bottom:1px solid #ddd}.charts{display:flex;
gap:2em;flex-wrap:wrap}figure{margin:0}figcaption{font-size:.85em;color:#555}"""


def _fmt(value: float, digits: int = 4) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _bars_svg(labels: Sequence[str], values: Sequence[float], *, width: int = 320, height: int = 180) -> str:
    vals = [0.0 if math.isnan(v) else v for v in values]
    top = max([abs(v) for v in vals] + [1e-12])
    zero = height / 2
    step = width / max(len(vals), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 20}">',
             f'<line x1="0" y1="{zero}" x2="{width}" y2="{zero}" stroke="#999"/>']
    for i, (label, v) in enumerate(zip(labels, vals, strict=True)):
        h = abs(v) / top * (height / 2 - 5)
        y = zero - h if v >= 0 else zero
        color = "#2b7bb9" if v >= 0 else "#d9534f"
        parts.append(f'<rect x="{i * step + 4:.1f}" y="{y:.1f}" width="{step - 8:.1f}" height="{h:.1f}" '
                     f'fill="{color}"><title>{html.escape(label)}: {v:.5g}</title></rect>')
        parts.append(f'<text x="{i * step + step / 2:.1f}" y="{height + 15}" font-size="11" '
                     f'text-anchor="middle">{html.escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _line_svg(values: Sequence[float], *, width: int = 420, height: int = 180) -> str:
    pts = [v for v in values if not math.isnan(v)]
    if len(pts) < 2:
        return "<p>not enough data</p>"
    lo, hi = min([*pts, 0.0]), max([*pts, 0.0])
    span = hi - lo or 1.0
    coords = " ".join(f"{i / (len(pts) - 1) * width:.1f},{height - (v - lo) / span * height:.1f}"
                      for i, v in enumerate(pts))
    zero = height - (0.0 - lo) / span * height
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
            f'<line x1="0" y1="{zero:.1f}" x2="{width}" y2="{zero:.1f}" stroke="#999"/>'
            f'<polyline fill="none" stroke="#2b7bb9" stroke-width="1.5" points="{coords}"/></svg>')


def _column_section(col: ColumnAnalysis, analysis: FactorAnalysis) -> str:
    rows = "".join(
        f"<tr><td>{h}</td><td>{_fmt(col.ic_summary[h]['mean'])}</td><td>{_fmt(col.rank_ic_summary[h]['mean'])}</td>"
        f"<td>{_fmt(col.rank_ic_summary[h]['std'])}</td><td>{_fmt(col.rank_ic_summary[h]['ir'], 3)}</td>"
        f"<td>{_fmt(col.rank_ic_summary[h]['t'], 2)}</td><td>{_fmt(col.rank_ic_summary[h]['hit_rate'], 3)}</td>"
        f"<td>{int(col.rank_ic_summary[h]['n'])}</td></tr>" for h in analysis.horizons)
    first = analysis.horizons[0]
    q = col.quantile_returns[first]
    decay = _bars_svg([str(h) for h in analysis.horizons], [col.rank_ic_summary[h]["mean"] for h in analysis.horizons])
    quant = _bars_svg([f"Q{i}" for i in q.index], list(q.values))
    cumulative = col.ic[first]["rank_ic"].fillna(0.0).cumsum().tolist()
    return (f"<h2>{html.escape(col.column)}</h2><table><tr><th>horizon (bars)</th><th>IC</th><th>rank IC</th>"
            f"<th>rank IC std</th><th>IR</th><th>t</th><th>hit rate</th><th>n</th></tr>{rows}</table>"
            f"<p>turnover top {_fmt(col.turnover_top, 3)}, bottom {_fmt(col.turnover_bottom, 3)}; "
            f"rank autocorrelation (lag 1) {_fmt(col.autocorrelation, 3)}</p><div class='charts'>"
            f"<figure>{decay}<figcaption>IC decay: mean rank IC by horizon</figcaption></figure>"
            f"<figure>{quant}<figcaption>mean forward return by quantile (horizon {first})</figcaption></figure>"
            f"<figure>{_line_svg(cumulative)}<figcaption>cumulative rank IC (horizon {first})</figcaption>"
            f"</figure></div>")


def render_html(analysis: FactorAnalysis, *, title: str = "cde factor analysis", note: str = "") -> str:
    table = analysis.table()
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(v if isinstance(v, str) else _fmt(float(v)))}</td>"
                                    for v in row) + "</tr>" for row in table.itertuples(index=False))
    sections = "".join(_column_section(c, analysis) for c in analysis.columns)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1><p>{html.escape(note)}</p>"
            f"<p>Quantiles: {analysis.quantiles}. Forward returns are close-to-close simple returns over the "
            f"horizon in bars; overlapping horizons inflate t-statistics.</p>"
            f"<table><tr>{head}</tr>{body}</table>{sections}</body></html>")
