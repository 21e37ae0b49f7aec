"""The request and report of a download, shared by ``cde download`` and ``POST /download``."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictBool

from cde_core.contracts.exchange import ArchiveRequest
from cde_core.json_types import JsonDate
from cde_core.lake_paths import LakeName
from cde_core.params_schema import params_of

FileStatus = Literal["downloaded", "cached", "missing", "failed"]
#: ``incomplete``: part of the day's trades is in a file that could not be read (OKX's next-day file,
#: missing or not published yet): nothing written, fetched again by the next run
DayStatus = Literal["written", "skipped", "missing", "incomplete", "failed"]


class DownloadRequest(ArchiveRequest):
    """An :class:`ArchiveRequest` plus how to run it.

    It is also the body of ``POST /download``, so its fields accept exactly the JSON types the schema
    names (the dates and flags are re-declared strict; pydantic's lax mode takes ``0`` for both).
    """

    start: JsonDate = Field(description="first day, inclusive (UTC)")
    end: JsonDate = Field(description="last day, inclusive (UTC)")
    interval: LakeName | None = Field(None, description="kline interval (klines only): 1s (spot), 1m, 3m, 5m, 15m, "
                                                  "30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d", max_length=8)
    params: dict[str, Any] = Field(default_factory=dict, description="adapter parameters (see its Params)",
                                   json_schema_extra=params_of("exchanges"))
    force: StrictBool = Field(False, description="fetch the files again (not from the cache) and rewrite days "
                                                 "already in the lake (never with fewer rows)")
    recheck_missing: StrictBool = Field(False, description="ask again for files recorded as missing (404) "
                                                           "less than a day ago")
    keep_archives: StrictBool = Field(False, description="keep the verified zips in <data_root>/.cache/archives "
                                                           "(an s3:// lake: in the local cache folder)")
    allow_unverified: StrictBool = Field(False, description="accept a zip published without its .CHECKSUM on its "
                                                            "zip CRC-32 alone (recorded in the provenance)")


class FileOutcome(BaseModel):
    url: str
    status: FileStatus
    bytes: int = 0
    sha256: str | None = None
    attempts: int = 0
    error: str | None = None
    unverified: bool = Field(False, description="published without a .CHECKSUM: accepted on its zip CRC-32 "
                                                "(--allow-unverified), or else failed")


class DayOutcome(BaseModel):
    symbol: str
    date: date
    status: DayStatus
    rows: int = 0
    error: str | None = None
    validation: dict[str, Any] = Field(default_factory=dict)


class DownloadReport(BaseModel):
    """What happened: per file and per symbol-day, with totals for the summary line."""

    exchange: str
    market: str
    kind: str
    files: list[FileOutcome] = Field(default_factory=list)
    days: list[DayOutcome] = Field(default_factory=list)

    @property
    def partition_unit(self) -> str:
        """What one partition of this kind covers, for the summary line."""
        from cde_exchanges.lake.targets import KIND_TREES

        spec = KIND_TREES.get(self.kind)
        return "months" if spec is not None and spec.monthly else "days"

    @property
    def row_unit(self) -> str:
        """What the rows of this kind are, for the summary line."""
        return {"klines": "klines", "fundingRate": "funding rates"}.get(self.kind, "trades")

    def count_days(self, status: DayStatus) -> int:
        return sum(1 for d in self.days if d.status == status)

    def count_files(self, status: FileStatus) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def ok(self) -> bool:
        return not any(d.status == "failed" for d in self.days)

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files if f.status == "downloaded")

    def issues(self) -> list[str]:
        """Validation findings worth a human's attention, one line each."""
        lines = []
        for day in self.days:
            v = day.validation
            parts = [f"{k}={v[k]}" for k in ("gaps", "missing_ids", "duplicates", "non_monotonic_ids",
                                             "non_monotonic_ts", "zero_qty", "foreign_rows") if v.get(k)]
            note = (f" (rows of {', '.join(v.get('foreign_dates', []))} in this day's file, not written)"
                    if v.get("foreign_rows") else "")
            if parts:
                lines.append(f"{day.symbol} {day.date}: " + ", ".join(parts) + note)
            if day.status == "written" and day.rows == 0:  # written as a day without rows: worth a look
                lines.append(f"{day.symbol} {day.date}: no {self.row_unit}: the file(s) of the day hold no row "
                             "of it (a day without trading, or a damaged file; `cde lake crosscheck` compares "
                             "with the exchange's klines)")
        return lines

    def summary(self) -> dict[str, Any]:
        return {
            "files": {s: self.count_files(s) for s in ("downloaded", "cached", "missing", "failed")},
            "days": {s: self.count_days(s) for s in ("written", "skipped", "missing", "incomplete", "failed")},
            "bytes": self.bytes,
            "rows": sum(d.rows for d in self.days if d.status == "written"),
            "issues": self.issues(),
            "errors": sorted({e for e in [*(f.error for f in self.files),
                                          *(d.error for d in self.days if d.status != "incomplete")] if e}),
            "incomplete": [f"{d.symbol} {d.date}: {d.error}" for d in self.days if d.status == "incomplete"],
        }
