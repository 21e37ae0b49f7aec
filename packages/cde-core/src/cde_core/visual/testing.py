"""Reading a rendered cde page back, for tests: its tables, its chart JSON, and what headless Chromium
drew of it. Shared by the stage packages' report tests (each page is checked against oracles there)."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# -- reading a page ------------------------------------------------------------------------------------


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._rows: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        if tag == "table":
            classes = dict(attrs).get("class", "").split()
            self._rows = self.tables.setdefault(classes[-1] if classes else "", [])
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            self._cell = []

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag in ("td", "th") and self._cell is not None and self._rows is not None:
            self._rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._rows = None

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if self._cell is not None:
            self._cell.append(data)


def page_tables(html: str) -> dict[str, list[list[str]]]:
    """Rows of every table by its last CSS class (the header row first). Tables sharing a class are
    concatenated in page order."""
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def page_charts(html: str) -> dict[str, Any]:
    """The page's chart JSON (figure by chart key), as the page hands it to plotly."""
    found = re.search(r'<script type="application/json" id="cde-charts">(.*?)</script>', html, re.S)
    if found is None:
        raise AssertionError("the page has no chart data")
    charts: dict[str, Any] = json.loads(found.group(1).replace("<\\/", "</"))
    return charts


def values(array: object) -> np.ndarray:
    """A plotly JSON array (plain list or typed ``{dtype, bdata, shape}``) as numpy."""
    if isinstance(array, dict):
        out = np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
        if "shape" in array:
            out = out.reshape([int(n) for n in str(array["shape"]).split(",")])
        return out.astype(np.float64)
    return np.asarray(array, dtype=object)


def when(ms: float) -> pd.Timestamp:
    """A date-axis value (milliseconds since the epoch, UTC) as a timestamp."""
    return pd.Timestamp(round(float(ms) * 1000), unit="us", tz="UTC")


def number(text: str) -> float:
    """A displayed number back to a float: '12.34 %' → 0.1234, '1,234.5' → 1234.5, '38.0 days' → 38."""
    cleaned = text.replace(",", "").replace("−", "-").replace("×", "").replace("days", "").strip()
    if cleaned.endswith("%"):
        return float(cleaned[:-1]) / 100.0
    return float(cleaned.split()[0])


# -- headless Chromium -------------------------------------------------------------------------------

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync", "--enable-logging=stderr",
                  "--v=0", "--virtual-time-budget=8000"]


def find_chromium() -> str | None:
    return next((p for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
                 if p and Path(p).exists()), None)


def chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with a private profile (``--dump-dom URL``, ``--screenshot=… URL``)."""
    binary = find_chromium()
    if binary is None:
        raise RuntimeError("chromium is not installed")
    return subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=180, check=False)


def console_lines(stderr: str) -> list[str]:
    """The page's console messages (errors, warnings, logs) from Chromium's log."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def drawn_charts(dom: str) -> dict[str, str]:
    """Each chart div's rendered markup in a dumped DOM, by its chart key."""
    out = {}
    for part in re.split(r'(?=<div class="chart[^"]*" id="chart-)', dom)[1:]:
        key = re.match(r'<div class="chart[^"]*" id="chart-([A-Za-z0-9_-]+)"', part)
        if key is not None:
            out[key.group(1)] = part.split("</section>")[0]
    return out


def chart_has_data(markup: str) -> bool:
    """True when plotly drew a trace with data: a line of many points, a bar or candle, or a heat map."""
    if 'class="main-svg"' not in markup:
        return False
    paths = [d for d in re.findall(r' d="(M[^"]+)"', markup) if d.count("L") > 20]
    return bool(paths) or len(re.findall(r'class="point"', markup)) >= 1 or "<image" in markup
