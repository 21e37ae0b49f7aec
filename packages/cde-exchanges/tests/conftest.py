"""Shared fixtures: a local archive server over a temporary directory and a config pointing at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cde_core.config import CdeConfig, DownloadConfig, ExecutorConfig
from cde_exchanges.archive_server import ArchiveServer


@pytest.fixture
def archive_root(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    root.mkdir()
    return root


@pytest.fixture
def server(archive_root: Path) -> Iterator[ArchiveServer]:
    with ArchiveServer(archive_root) as srv:
        yield srv


@pytest.fixture
def config(tmp_path: Path, server: ArchiveServer) -> CdeConfig:
    download = DownloadConfig(binance_archive_url=server.url, okx_archive_url=server.url, concurrency=2,
                              timeout_s=2.0, retries=3, backoff_s=0.01)
    return CdeConfig(data_root=tmp_path / "lake", download=download,
                     executor=ExecutorConfig(name="local", kind="thread", max_workers=1))
