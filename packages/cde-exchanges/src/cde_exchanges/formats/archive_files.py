"""One archive file to fetch: where it lives, which days it covers, and how it is verified."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

Period = Literal["daily", "monthly"]


@dataclass(frozen=True)
class ArchiveFile:
    """A zip in an exchange archive.

    ``rel_path`` is the path under the exchange's base URL (also the cache path), ``first_day`` /
    ``last_day`` the UTC days it nominally covers, ``checksum_rel_path`` the published ``.CHECKSUM``
    beside it (None when the exchange publishes none, as OKX), ``interval`` the kline interval of a
    ``klines`` file (None for every other kind).
    """

    exchange: str
    market: str
    kind: str
    symbol: str
    period: Period
    first_day: date
    last_day: date
    rel_path: str
    checksum_rel_path: str | None
    interval: str | None = None

    @property
    def name(self) -> str:
        return self.rel_path.rsplit("/", 1)[-1]
