"""Shared fixtures: the oracle module beside the tests, hypothesis trade streams, a trades lake, and
``lake_root`` — a lake on a local folder and the same on the loopback S3 server (``s3://…``), so a
test taking it runs on both stores."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(params=["local", "s3"])
def lake_root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh lake root: ``<tmp>/lake`` or ``s3://<fresh bucket>/lake`` (AWS env set in-process)."""
    if request.param == "s3":
        return str(request.getfixturevalue("s3_lake_url"))
    return str(tmp_path / "lake")
