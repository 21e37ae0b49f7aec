"""The download service behind ``cde download`` and ``POST /download``.

plan (skip days already in the lake) → fetch files concurrently (verified, into the cache; monthly
files fall back to daily ones) → extract each symbol's files into day partitions through the
configured executor → report. Resumable at every step: committed partitions are skipped, verified
zips are reused (while still the published file), temporary files of a killed run are removed first.

Each symbol is downloaded under its lock (:mod:`cde_exchanges.download.locks`): symbols another run
holds are waited for, the others go ahead, so concurrent runs on one lake never touch each other's
files and a symbol-day is done once.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cde_core.atomic import remove_stale_temps
from cde_core.config import CdeConfig, get_config
from cde_core.contracts.executor import Job
from cde_core.errors import CdeError, DataError, NotFoundError
from cde_core.executors import create_executor
from cde_core.lake import PART_FILE, Lake
from cde_core.progress import CancelToken, ProgressCallback, monotonic, no_progress, scaled
from cde_core.suggest import did_you_mean
from cde_exchanges.download.cancel import CancelFlag, mirrored
from cde_exchanges.download.locks import SymbolLocks
from cde_exchanges.download.models import DayOutcome, DownloadReport, DownloadRequest, FileOutcome
from cde_exchanges.download.plan import daily_files, plan_files, wanted_days
from cde_exchanges.extraction.table_extractor import TableExtraction, extract_tables
from cde_exchanges.extraction.trade_extractor import SourceZip, SymbolExtraction, extract_symbol
from cde_exchanges.fetching.archive_cache import ArchiveCache
from cde_exchanges.fetching.archive_fetcher import ArchiveFetcher, TransferMonitor
from cde_exchanges.fetching.first_archive import files_before_first_archive
from cde_exchanges.formats.archive_exchange import ArchiveExchange
from cde_exchanges.formats.archive_files import ArchiveFile
from cde_exchanges.formats.kline_intervals import interval_us
from cde_exchanges.lake.targets import LakeTarget, partition_stamp
from cde_exchanges.utc_days import days_between

#: how often a run waiting for another run's symbol looks again
LOCK_POLL_S = 0.2


def _today() -> date:
    return datetime.now(UTC).date()


def check_request(request: DownloadRequest, adapter: ArchiveExchange, config: CdeConfig | None = None) -> None:
    """The one-line errors a request can be refused with before anything runs (also ``POST /download``'s 4xx)."""
    adapter.check(request.market, request.kind)
    adapter.params(request.params)  # a bad adapter parameter is refused now, not inside the task
    if request.start > request.end:
        raise DataError(f"start {request.start} is after end {request.end}", where="download request",
                        hint="swap them")
    limit = (config or get_config()).download.max_span_days
    span = (request.end - request.start).days + 1
    if span > limit:
        raise DataError(f"{request.start}..{request.end} spans {span} days, over the limit of {limit} days "
                        "(download.max_span_days)", where="download request",
                        hint="split the range into several downloads, or raise download.max_span_days "
                             "(CDE_DOWNLOAD__MAX_SPAN_DAYS)")
    if request.kind == "klines":
        interval_us(request.interval, request.market)
    elif request.interval is not None:
        raise DataError(f"--interval applies to klines, not {request.kind}", where="download request",
                        hint="drop --interval, or use --kind klines")


def run_download(request: DownloadRequest, *, adapter: ArchiveExchange, config: CdeConfig | None = None,
                 progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
                 monitor: TransferMonitor | None = None, today: date | None = None,
                 notify: Callable[[str], None] | None = None, **_: Any) -> DownloadReport:
    """Run one download. ``notify`` receives the lines a user should see at once (waiting for another
    run); the CLI prints them, the API leaves them in the task's progress message."""
    config = config or get_config()
    progress = monotonic(progress or no_progress)  # the last job reports 1.0, then "done" again
    today = today or _today()
    check_request(request, adapter, config)
    params = adapter.params(request.params, list(request.symbols))
    lake = Lake(config.data_root)
    target = LakeTarget(lake, adapter.name, request.market, request.kind,
                        request.interval if request.kind == "klines" else None)
    cache = ArchiveCache(config.data_root)
    report = DownloadReport(exchange=adapter.name, market=request.market, kind=request.kind)
    symbols = list(dict.fromkeys(request.symbols))
    fetcher = ArchiveFetcher(adapter.base_url(config.download), config.download, cache, monitor,
                             recheck_missing=request.recheck_missing, refetch=request.force,
                             allow_unverified=request.allow_unverified,
                             listing_url=adapter.listing_url(config.download))
    pending, finished = symbols, 0
    try:
        with mirrored(cancel, cache.root / "cancel") as flag, SymbolLocks(target) as locks:
            run = _Run(request, adapter, params, target, cache, fetcher, config, today, report, cancel, flag)
            while pending:
                turn = _next_turn(locks, pending, run, notify, functools.partial(progress, finished / len(symbols)),
                                  cancel)
                share = scaled(progress, finished / len(symbols), (finished + len(turn)) / len(symbols))
                run.download(turn, share)
                locks.release(turn)
                pending = [s for s in pending if s not in turn]
                finished += len(turn)
    finally:
        fetcher.close()
    report.days.sort(key=lambda d: (d.symbol, d.date))
    progress(1.0, "done")
    return report


def _next_turn(locks: SymbolLocks, pending: list[str], run: _Run, notify: Callable[[str], None] | None,
               progress: Callable[[str], None], cancel: CancelToken | None) -> list[str]:
    """The pending symbols whose locks this run now holds; when another run holds all of them, wait
    (one line per symbol, the first time it is waited for) until one is free."""
    while True:
        turn = [s for s in pending if locks.try_take(s)]
        if turn:
            return turn
        for symbol in pending:
            if symbol not in run.waited_for:
                run.waited_for.add(symbol)
                line = (f"waiting: {symbol} ({run.target.exchange} {run.target.market} {run.request.kind}) is "
                        f"being downloaded by another cde download ({locks.holder(symbol)}); its days are "
                        f"skipped here once it is done")
                progress(line)
                if notify is not None:
                    notify(line)
        if cancel is not None:
            cancel.raise_if_cancelled("download")
        time.sleep(LOCK_POLL_S)


@dataclass
class _Run:
    """One download run's fixed inputs; with ``--force`` also the partitions as they were when it
    started, so the days another run commits meanwhile are not done a second time."""

    request: DownloadRequest
    adapter: ArchiveExchange
    params: Any
    target: LakeTarget
    cache: ArchiveCache
    fetcher: ArchiveFetcher
    config: CdeConfig
    today: date
    report: DownloadReport
    cancel: CancelToken | None
    flag: CancelFlag
    waited_for: set[str] = field(default_factory=set)
    stamps_at_start: dict[str, dict[date, tuple[int, int] | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.request.force:
            self.stamps_at_start = {s: self.partition_stamps(s) for s in self.request.symbols}

    def keys(self) -> list[date]:
        return sorted({self.target.key(day) for day in days_between(self.request.start, self.request.end)})

    def partition_stamps(self, symbol: str) -> dict[date, tuple[int, int] | None]:
        """(inode, mtime) of each requested partition file: a rename into place changes both, so a
        partition another run commits while this one waits is told apart from one that was there."""
        return {key: partition_stamp(self.target.folder(symbol, key) / PART_FILE) for key in self.keys()}

    def written_meanwhile(self, symbol: str) -> set[date]:
        """Partitions of ``symbol`` another run committed since this one started (``--force`` only)."""
        before = self.stamps_at_start.get(symbol)
        if before is None:
            return set()
        now = self.partition_stamps(symbol)
        return {key for key, stamp in now.items()
                if stamp is not None and stamp != before.get(key) and self.target.is_complete(symbol, key)}

    def committed_rows(self, symbol: str, keys: list[date]) -> dict[date, int]:
        """Rows of each of ``keys`` committed in the lake (``--force`` rewrites them, never with fewer rows)."""
        rows = {}
        for key in self.target.complete_keys(symbol, keys):
            with contextlib.suppress(CdeError):
                provenance = self.target.lake.read_provenance(self.target.folder(symbol, key))
                if provenance is not None:
                    rows[key] = provenance.rows
        return rows

    def download(self, symbols: list[str], progress: ProgressCallback) -> None:
        """Plan, fetch, extract and tidy the cache for ``symbols``, whose locks this run holds."""
        request, target, report = self.request, self.target, self.report
        todo: dict[str, list[date]] = {}
        for symbol in symbols:
            with contextlib.suppress(FileNotFoundError):
                remove_stale_temps(target.symbol_dir(symbol))  # ours to remove: we hold the symbol's lock
            days, have = wanted_days(target, symbol, request.start, request.end, force=request.force)
            meanwhile = self.written_meanwhile(symbol)
            have = sorted({*have, *(d for d in days if d in meanwhile)})
            days = [d for d in days if d not in meanwhile]
            report.days.extend(DayOutcome(symbol=symbol, date=d, status="skipped") for d in have)
            if days:
                todo[symbol] = days
        _set_aside_unpublished(self.adapter, request.kind, todo, self.today, report)
        fetched = _fetch_all(self.fetcher, self.adapter, request, target, todo, self.today, report,
                             scaled(progress, 0.0, 0.7), self.cancel)
        for symbol in [s for s in todo if s not in fetched]:
            unknown = _not_in_archive(self.fetcher, self.adapter, request, target, symbol, todo[symbol], self.today)
            if unknown is not None:
                report.days.extend(DayOutcome(symbol=symbol, date=d, status="failed", error=unknown)
                                   for d in todo.pop(symbol))
        jobs = []
        for symbol, days in todo.items():
            sources = tuple(sorted(fetched.get(symbol, []), key=lambda s: (s.file.first_day, s.file.period)))
            committed = self.committed_rows(symbol, days) if request.force else {}
            jobs.append(_extraction_job(self.adapter, self.params, target, symbol, sources, days, self.flag,
                                        committed))
        if jobs:
            executor = create_executor(self.config.executor)
            try:
                results = executor.run(jobs, progress=scaled(progress, 0.7, 1.0), cancel=self.cancel)
            finally:
                executor.close()
            if self.cancel is not None:  # jobs stopped by the flag report failed days: the run was cancelled
                self.cancel.raise_if_cancelled("download")
            for outcomes in results:
                report.days.extend(outcomes)
        if not request.keep_archives:
            for symbol in symbols:
                _drop_settled(self.cache, self.adapter, request, target, symbol, self.today, report)


def _set_aside_unpublished(adapter: ArchiveExchange, kind: str, todo: dict[str, list[date]], today: date,
                           report: DownloadReport) -> None:
    """A kind published monthly only (funding rates) has no file for the running month yet: such months
    are reported missing with the reason, and a request for nothing but them is refused outright."""
    if adapter.has_daily_files(kind):
        return
    running = today.replace(day=1)
    unpublished = sorted({key for keys in todo.values() for key in keys if key >= running})
    if not unpublished:
        return
    reason = (f"{adapter.name} publishes {kind} as monthly files only, after the month ends: "
              f"{', '.join(f'{m:%Y-%m}' for m in unpublished)} not published yet")
    if not report.days and all(key >= running for keys in todo.values() for key in keys):
        raise NotFoundError(reason, where="download request", hint=f"ask for months before {running:%Y-%m}")
    for symbol in list(todo):
        report.days.extend(DayOutcome(symbol=symbol, date=key, status="missing", error=reason)
                           for key in todo[symbol] if key >= running)
        todo[symbol] = [key for key in todo[symbol] if key < running]
        if not todo[symbol]:
            del todo[symbol]


def _extraction_job(adapter: ArchiveExchange, params: Any, target: LakeTarget, symbol: str,
                    sources: tuple[SourceZip, ...], days: list[date], cancel: CancelFlag,
                    committed: dict[date, int]) -> Job:
    """The executor job that writes one symbol's partitions: the streaming trade extractor for trade
    kinds, the small-table extractor for the others."""
    key = f"{target.exchange}/{target.market}/{symbol}"
    if target.is_trades:
        prev_id, prev_ts = _previous_day_tail(target, symbol, days[0])
        job = SymbolExtraction(adapter, params, target.lake.root, target.market, target.kind, symbol, sources,
                               frozenset(days), prev_id, prev_ts, cancel, committed)
        return Job(key=key, fn=extract_symbol, args=(job,))
    return Job(key=key, fn=extract_tables, args=(TableExtraction(adapter, params, target, symbol, sources,
                                                                 frozenset(days), cancel, committed),))


def _fetch_all(fetcher: ArchiveFetcher, adapter: ArchiveExchange, request: DownloadRequest, target: LakeTarget,
               todo: dict[str, list[date]], today: date, report: DownloadReport,
               progress: ProgressCallback, cancel: CancelToken | None) -> dict[str, list[SourceZip]]:
    """Fetch every planned file (then the daily fallbacks of missing monthly files)."""
    fetched: dict[str, list[SourceZip]] = {}
    round_files: list[tuple[str, ArchiveFile]] = [
        (symbol, f) for symbol, days in todo.items()
        for f, _ in plan_files(adapter, request.market, request.kind, symbol, days, today, target.interval)]
    total = max(len(round_files), 1)
    done = 0
    with ThreadPoolExecutor(max_workers=fetcher.config.concurrency, thread_name_prefix="cde-fetch") as pool:
        while round_files:
            if cancel is not None:
                cancel.raise_if_cancelled("download")
            # once each: a spill file (OKX) is also the first file of the next month, and two threads
            # fetching one file remove each other's temporary file
            round_files = list({(symbol, f.rel_path): (symbol, f) for symbol, f in round_files}.values())
            # days before a symbol's first archive are not asked for one by one (listing or search)
            before = files_before_first_archive(fetcher, round_files, recheck_missing=request.recheck_missing,
                                                cancel=cancel)
            outcomes = list(pool.map(functools.partial(_fetch_one, fetcher, before, cancel), round_files))
            listed = _first_monthly_file(round_files, outcomes)
            fallback: list[tuple[str, ArchiveFile]] = []
            for (symbol, file), outcome in zip(round_files, outcomes, strict=True):
                done += 1
                progress(done / total, file.name)
                refused = outcome.status == "failed" and outcome.unverified  # its .CHECKSUM is 404
                if outcome.status == "missing" and file.period == "monthly" and symbol in listed \
                        and file.last_day < listed[symbol]:
                    # before the symbol's first monthly archive: it was not traded yet, and probing
                    # every day of those months (decades, for a careless range) only writes markers;
                    # its days are reported missing like any day without a file
                    outcome = outcome.model_copy(update={"error": None})
                elif (outcome.status == "missing" or refused) and file.period == "monthly":
                    month_days = [d for d in todo[symbol] if file.first_day <= d <= file.last_day]
                    planned = {f.rel_path for s, f in round_files if s == symbol}
                    extra = [f for f in daily_files(adapter, request.market, request.kind, symbol, month_days, today,
                                                    target.interval) if f.rel_path not in planned]
                    fallback.extend((symbol, f) for f in extra)
                    total += len(extra)
                    if not refused:
                        outcome = outcome.model_copy(update={"error": None})
                    elif extra:  # the month's verified daily files stand in for the unverified monthly one
                        outcome = outcome.model_copy(update={"error": f"{outcome.error} (its daily files were "
                                                                      "used instead)"})
                        report.files.append(outcome)
                        continue
                report.files.append(outcome)
                if outcome.status in ("downloaded", "cached"):
                    fetched.setdefault(symbol, []).append(
                        SourceZip(file, fetcher.cache.zip_path(file), outcome.url, outcome.sha256, outcome.unverified))
                elif outcome.status == "failed":
                    _fail_days(report, symbol, todo, file, outcome)
            round_files = fallback
    return fetched


def _not_in_archive(fetcher: ArchiveFetcher, adapter: ArchiveExchange, request: DownloadRequest,
                    target: LakeTarget, symbol: str, days: list[date], today: date) -> str | None:
    """Why ``symbol``, of which no file was found, is no symbol of the archive at all (a typo, another
    market's name), with the nearest names the archive lists; None when it is one, or when the archive
    cannot list its folders (OKX; then its days are just missing). Without this a misspelt symbol is a
    run of "missing" days and exit status 0."""
    if fetcher.listing is None:
        return None
    files = [f for f, _ in plan_files(adapter, request.market, request.kind, symbol, days, today, target.interval)]
    files += daily_files(adapter, request.market, request.kind, symbol, days[:1], today, target.interval)
    marker = f"/{symbol}/"
    folders = sorted({f.rel_path[: f.rel_path.index(marker) + 1] for f in files if marker in f.rel_path})
    known: set[str] = set()
    for folder in folders:
        names = fetcher.listing.subfolders(folder)
        if names is None or symbol in names:
            return None
        known |= names
    if not folders or not known:  # an empty kind folder says nothing about the symbol
        return None
    return (f"{symbol}: the {adapter.name} archive has no {request.market} {request.kind} files of {symbol} at all "
            f"({fetcher.url(folders[0])}) — {did_you_mean(symbol, known, what='symbols there')}")


def _first_monthly_file(round_files: list[tuple[str, ArchiveFile]], outcomes: list[FileOutcome]) -> dict[str, date]:
    """First day of each symbol's earliest monthly file the archive has (in this round)."""
    first: dict[str, date] = {}
    for (symbol, file), outcome in zip(round_files, outcomes, strict=True):
        if file.period == "monthly" and outcome.status in ("downloaded", "cached"):
            first[symbol] = min(first.get(symbol, file.first_day), file.first_day)
    return first


def _fetch_one(fetcher: ArchiveFetcher, before: set[tuple[str, str]], cancel: CancelToken | None,
               item: tuple[str, ArchiveFile]) -> FileOutcome:
    """One file of a round; one of ``before`` (before the symbol's first archive) is missing, without a
    request or a marker."""
    symbol, file = item
    if (symbol, file.rel_path) not in before:
        return _fetch_unless_cancelled(fetcher, file, cancel)
    outcome = FileOutcome(url=fetcher.url(file.rel_path), status="missing")
    fetcher.monitor.file_done(outcome)
    return outcome


def _fetch_unless_cancelled(fetcher: ArchiveFetcher, file: ArchiveFile, cancel: CancelToken | None) -> FileOutcome:
    """One file, after a cancel poll: a cancel stops a round of thousands of files between two files."""
    if cancel is not None:
        cancel.raise_if_cancelled("download")
    return fetcher.fetch(file)


def _fail_days(report: DownloadReport, symbol: str, todo: dict[str, list[date]], file: ArchiveFile,
               outcome: FileOutcome) -> None:
    """A file that failed for good takes its days out of this run (they stay absent, not half-done)."""
    days = [d for d in todo.get(symbol, []) if file.first_day <= d <= file.last_day]
    if not days:
        return
    todo[symbol] = [d for d in todo[symbol] if d not in days]
    if not todo[symbol]:
        del todo[symbol]
    report.days.extend(DayOutcome(symbol=symbol, date=d, status="failed", error=outcome.error) for d in days)


def _previous_day_tail(target: LakeTarget, symbol: str, first: date) -> tuple[int | None, int | None]:
    """Last trade id / ts of the day before ``first`` (from its provenance), to check the boundary."""
    prov = target.lake.read_provenance(target.folder(symbol, first - timedelta(days=1)))
    if prov is None or prov.last_trade_id is None or prov.max_ts is None:
        return None, None
    ts = datetime.fromisoformat(prov.max_ts.replace("Z", "+00:00"))
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return prov.last_trade_id, (ts - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


#: day outcomes after which no cached file is needed for the day any more
SETTLED: frozenset[str] = frozenset({"written", "skipped", "missing"})


def _drop_settled(cache: ArchiveCache, adapter: ArchiveExchange, request: DownloadRequest, target: LakeTarget,
                  symbol: str, today: date, report: DownloadReport) -> None:
    """Remove the cached zips of ``symbol`` that no requested day still needs: also those of days a
    killed run wrote (its zips outlived it), while the zips of failed days stay for the next run."""
    settled = {d.date for d in report.days if d.symbol == symbol and d.status in SETTLED}
    keys = sorted({target.key(day) for day in days_between(request.start, request.end)})
    for file in _candidate_files(adapter, request, target, symbol, keys, today):
        if cache.verified(file) is None and not cache.zip_path(file).exists():
            continue
        first = file.first_day - timedelta(days=adapter.spill_days)  # a spill file also serves the days before
        needed = {key for key in keys if target.key(first) <= key <= target.key(file.last_day)}
        if needed <= settled:
            with contextlib.suppress(DataError):  # left for the next run, which names it if it stays unusable
                cache.forget(file)


def _candidate_files(adapter: ArchiveExchange, request: DownloadRequest, target: LakeTarget, symbol: str,
                     keys: list[date], today: date) -> list[ArchiveFile]:
    """Every file a download of ``keys`` may have cached: the planned ones and the daily fallbacks."""
    files = {f.rel_path: f for f, _ in plan_files(adapter, request.market, request.kind, symbol, keys, today,
                                                   target.interval)}
    days = days_between(request.start, request.end)
    files.update((f.rel_path, f) for f in daily_files(adapter, request.market, request.kind, symbol, days, today,
                                                      target.interval))
    return list(files.values())
