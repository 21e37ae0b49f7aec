"""What the demo runs on: a generated market in Binance's spot archive format (or the real one)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import BaseModel, ConfigDict, Field

from cde_core.lake_location import LakePath, LakeRootField, local_work_dir

#: liquid Binance spot pairs; the generated market gives them quote volumes spread over decades
DEMO_SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT", "ADAUSDT", "AVAXUSDT",
                "LINKUSDT", "DOTUSDT", "LTCUSDT", "TRXUSDT")


def default_demo_root() -> Path:
    return Path(user_data_dir("cde", appauthor=False)) / "demo"


class DemoSettings(BaseModel):
    """Sizes are chosen so the whole demo stays well under three minutes on two cores."""

    model_config = ConfigDict(extra="forbid")

    data_root: LakeRootField = Field(default_factory=default_demo_root,
                                     description="everything the demo writes: a folder, or s3://bucket/prefix "
                                                 "for the lake (archive and work files stay local)")
    source: Literal["synthetic", "binance"] = Field("synthetic", description="generated market or the real archive")
    symbols: int = Field(len(DEMO_SYMBOLS), ge=4, le=len(DEMO_SYMBOLS), description="how many symbols")
    start: date = date(2024, 1, 1)
    # momentum_ls ranks on a 4-week return (672 1 h bars), then waits up to a week for its Monday
    # rebalance: fewer days than 28 + 7 + 2 can never trade, and the run would be refused as flat
    days: int = Field(91, ge=37, le=366, description="days of trades (at least 37: the momentum backtest needs "
                                                     "4 weeks of history and a weekly rebalance after them)")
    trades_per_day: int = Field(5_000, ge=100, description="mean trades per symbol-day (synthetic)")
    seed: int = Field(7, ge=0, description="seed of the generated market")
    universe_size: int = Field(8, ge=2, description="point-in-time top-N by trailing quote volume")
    momentum_factor: str = Field("ret_log_672", description="feature ranked by momentum_ls (4 weeks of 1 h bars)")

    @property
    def end(self) -> date:
        return self.start + timedelta(days=self.days - 1)

    @property
    def symbol_list(self) -> list[str]:
        return list(DEMO_SYMBOLS[: self.symbols])

    @property
    def lake(self) -> LakePath:
        return self.data_root / "lake"

    @property
    def local_root(self) -> Path:
        """Where the generated archive and the work files go: the data root itself, or for a bucket
        the lake's local work folder (the archive server and the universe file need a file system)."""
        if isinstance(self.data_root, Path):
            return self.data_root
        return local_work_dir(self.data_root) / "demo"

    @property
    def archive(self) -> Path:
        return self.local_root / "archive"

    @property
    def work(self) -> Path:
        return self.local_root / "work"
