"""What every archive adapter shares: its markets and kinds, file layout and parsers.

An adapter describes and reads archives; it knows nothing of the service that downloads them (that
service takes an adapter). The Exchange protocol's ``download`` is added where the adapters are
registered: :mod:`cde_exchanges.download.exchanges`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Annotated, Any, ClassVar

import pyarrow as pa
from pydantic import BaseModel, Field, StrictFloat

from cde_core.config import DownloadConfig
from cde_core.errors import ConfigError, NotFoundError
from cde_core.suggest import nearest
from cde_exchanges.formats.archive_files import ArchiveFile

#: a contract's size or value (Binance COIN-M USD per contract, OKX ctVal): every quantity of the
#: symbol is multiplied by it, so zero, a negative, NaN or infinity would be a silently wrong lake
ContractSize = Annotated[StrictFloat, Field(gt=0, allow_inf_nan=False)]


class ArchiveExchange:
    """Base of the Binance and OKX adapters.

    Subclasses describe the archive layout (``daily_file`` / ``monthly_file``) and parse one zip into
    canonical trades (``read_trades``); downloading, verifying, splitting into day partitions and
    validating are shared (:mod:`cde_exchanges.download.service`, which takes the adapter). With the
    ``download`` of :class:`cde_exchanges.download.exchanges.DownloadableArchive` it satisfies
    :class:`cde_core.contracts.exchange.Exchange`.
    """

    name: str = ""
    summary: str = ""
    Params: ClassVar[type[BaseModel]]
    markets: tuple[str, ...] = ()
    kinds: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: a day's rows may sit in the file of the next day(s) (OKX files reportedly cut on UTC+8): a day is
    #: written only once those files were read, and a file's own days include the ``spill_days`` before it
    spill_days: int = 0

    def base_url(self, config: DownloadConfig) -> str:
        raise NotImplementedError

    def listing_url(self, config: DownloadConfig) -> str | None:
        """Where the archive lists its files (an S3 ListObjects endpoint), or None when it has no listing:
        then the files are asked for one by one (:mod:`cde_exchanges.fetching.archive_listing`)."""
        return None

    def check(self, market: str, kind: str) -> None:
        if market not in self.markets:
            raise NotFoundError(f"{self.name} has no market '{market}'",
                                hint=f"markets: {', '.join(self.markets)}")
        if kind not in self.kinds.get(market, ()):
            raise NotFoundError(f"{self.name} {market} has no archive kind '{kind}' supported by cde",
                                hint=f"kinds: {', '.join(self.kinds.get(market, ()))}")

    def params(self, raw: dict[str, Any] | None, symbols: list[str] | None = None) -> BaseModel:
        """``raw`` checked by :attr:`Params`: a bad or misspelt key is one line naming it (400 at submit);
        so is a per-symbol key one slip from a symbol of ``symbols`` that has no key of its own
        (``BTCUSD_PREP`` while downloading BTCUSD_PERP): such a key would be ignored, and the symbol read
        with the default value, silently."""
        from cde_core.errors import checked_params

        params = checked_params(self.Params, raw or {}, name=self.name, owner=f"the {self.name} adapter",
                                where="params")
        wanted = set(symbols or ())
        for field, value in params:
            if not isinstance(value, dict):
                continue
            unset = wanted - set(value)  # a symbol with a key of its own: the near key is another's
            for key in value:
                close = nearest(key, unset, n=1, cutoff=0.8) if key not in wanted else []
                if close:
                    raise ConfigError(f"--params {field} names {key}, which this download does not fetch",
                                      where="--params", hint=f"did you mean {close[0]}?")
        return params

    def daily_file(self, market: str, kind: str, symbol: str, day: date,
                   interval: str | None = None) -> ArchiveFile:
        """The daily file of ``day`` (``interval``: klines only)."""
        raise NotImplementedError

    def monthly_file(self, market: str, kind: str, symbol: str, year: int, month: int,
                     interval: str | None = None) -> ArchiveFile | None:
        """The monthly file, or None when the exchange publishes none cde uses."""
        return None

    def has_daily_files(self, kind: str) -> bool:
        """Whether ``kind`` is published day by day too (funding rates are monthly only)."""
        return True

    def read_trades(self, zip_path: Path, file: ArchiveFile, params: BaseModel) -> Iterator[pa.RecordBatch]:
        """Canonical trades (:data:`cde_core.schemas.TRADES_SCHEMA`) of one zip, streamed in batches."""
        raise NotImplementedError

    def read_records(self, zip_path: Path, file: ArchiveFile, params: BaseModel) -> Iterator[pa.RecordBatch]:
        """Rows of a zip of a kind that is not trades (klines, funding rates), in that kind's lake
        schema (:func:`cde_exchanges.lake.targets.LakeTarget.schema`), streamed in batches."""
        raise NotImplementedError
