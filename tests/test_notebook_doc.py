"""docs/notebook.md is a session that runs: every ```python block is executed in order (one namespace,
in a temporary folder), and each block followed by a ```text block must print exactly that text."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "notebook.md"
BLOCK = re.compile(r"```(python|text)\n(.*?)```", re.S)


def blocks() -> list[tuple[str, str | None]]:
    """(python code, the text it must print or None) in page order (the first text block, before any
    code, is an error message shown as an example and belongs to no code)."""
    found = BLOCK.findall(DOC.read_text())
    pairs: list[tuple[str, str | None]] = []
    for kind, body in found:
        if kind == "python":
            pairs.append((body, None))
        elif pairs and pairs[-1][1] is None:
            pairs[-1] = (pairs[-1][0], body)
    return pairs


def test_the_notebook_page_runs_and_prints_what_it_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    pairs = blocks()
    assert len(pairs) >= 5
    for code, expected in pairs:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, str(DOC), "exec"), namespace)
        if expected is not None:
            assert out.getvalue() == expected, code
    run = namespace["run"]
    page = run.report()._repr_html_()  # type: ignore[attr-defined]
    assert page.startswith("<iframe srcdoc=") and "plotly" in page.lower()
    assert "<table>" in run._repr_html_()  # type: ignore[attr-defined]
    assert (tmp_path / "lake" / "runs" / run.run_id / "report.html").exists()  # type: ignore[attr-defined]
