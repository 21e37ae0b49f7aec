"""The exchanges as the plugin registers them: an archive adapter plus the Exchange protocol's
``download``, which runs the download service with that adapter.

Why here and not in the adapter: the adapters (:mod:`cde_exchanges.formats`) describe and read the
archives, and the service that drives a download takes an adapter; were the adapter to call the
service, each would import the other. Composing the two at registration keeps the layers one way:
``download`` knows ``formats``, never the reverse.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from cde_core.contracts.exchange import ArchiveRequest
from cde_exchanges.formats.archive_exchange import ArchiveExchange
from cde_exchanges.formats.binance import BinanceArchive
from cde_exchanges.formats.okx import OkxArchive


class DownloadableArchive(ArchiveExchange):
    """An archive adapter that satisfies :class:`cde_core.contracts.exchange.Exchange`."""

    def download(self, request: ArchiveRequest, **context: Any) -> BaseModel:
        """Fetch, verify and write the requested days into the lake (``download.service.run_download``)."""
        # imported here, not at module level: every ``cde`` command registers the exchanges, and the
        # service (HTTP client, extraction) costs ~0.2 s to import that most commands never use
        from cde_exchanges.download.models import DownloadRequest
        from cde_exchanges.download.service import run_download

        full = request if isinstance(request, DownloadRequest) else DownloadRequest(**request.model_dump())
        return run_download(full, adapter=self, **context)


class BinanceExchange(DownloadableArchive, BinanceArchive):
    """Binance's archive, downloadable: what ``register_exchanges`` registers as ``binance``."""


class OkxExchange(DownloadableArchive, OkxArchive):
    """OKX's archive, downloadable: what ``register_exchanges`` registers as ``okx``."""
