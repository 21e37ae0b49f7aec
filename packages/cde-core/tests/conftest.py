"""Fixtures for kernel tests: a clean plugin host and fake installed distributions."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cde_core.plugins import PluginHost, reset_plugins
from cde_core.testing import install_fake_distribution


@pytest.fixture
def host() -> Iterator[PluginHost]:
    """A host with no entry points loaded, installed as the process-wide host for the test."""
    fresh = PluginHost(load_entry_points=False)
    previous = reset_plugins(fresh)
    try:
        yield fresh
    finally:
        reset_plugins(previous)


class FakeSite:
    """A folder on sys.path where a test installs throwaway distributions."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def add(self, dist: str, module: str, source: str, entry_name: str) -> None:
        install_fake_distribution(self.path, dist, module, source, entry_name)


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSite]:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    yield FakeSite(site)
    for name in [m for m in sys.modules if m.startswith("fake_cde_")]:
        del sys.modules[name]
