"""The download service behind ``cde download`` and ``POST /download``.

plan (skip days already in the lake) → fetch files concurrently (verified, into the cache; monthly
files fall back to daily ones) → extract each symbol's files into day partitions through the
configured executor → report. Resumable at every step: committed partitions are skipped, verified
zips are reused, temporary files of a killed run are removed first.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cde_core.config import CdeConfig, get_config
from cde_core.contracts.executor import Job
from cde_core.errors import DataError, NotFoundError
from cde_core.executors import create_executor
from cde_core.lake import Lake
from cde_core.progress import CancelToken, ProgressCallback, no_progress, scaled
from cde_exchanges.archive_cache import ArchiveCache
from cde_exchanges.archive_exchange import ArchiveExchange
from cde_exchanges.archive_fetcher import ArchiveFetcher, TransferMonitor
from cde_exchanges.archive_files import ArchiveFile
from cde_exchanges.download_models import DayOutcome, DownloadReport, DownloadRequest, FileOutcome
from cde_exchanges.download_plan import daily_files, plan_files, wanted_days
from cde_exchanges.kline_intervals import interval_us
from cde_exchanges.lake_targets import LakeTarget
from cde_exchanges.table_extractor import TableExtraction, extract_tables
from cde_exchanges.trade_extractor import SourceZip, SymbolExtraction, extract_symbol


def _today() -> date:
    return datetime.now(UTC).date()


def check_request(request: DownloadRequest, adapter: ArchiveExchange) -> None:
    """The one-line errors a request can be refused with before anything runs (also ``POST /download``'s 4xx)."""
    adapter.check(request.market, request.kind)
    if request.start > request.end:
        raise DataError(f"start {request.start} is after end {request.end}", where="download request",
                        hint="swap them")
    if request.kind == "klines":
        interval_us(request.interval, request.market)
    elif request.interval is not None:
        raise DataError(f"--interval applies to klines, not {request.kind}", where="download request",
                        hint="drop --interval, or use --kind klines")


def run_download(request: DownloadRequest, *, adapter: ArchiveExchange, config: CdeConfig | None = None,
                 progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
                 monitor: TransferMonitor | None = None, today: date | None = None,
                 **_: Any) -> DownloadReport:
    config = config or get_config()
    progress = progress or no_progress
    today = today or _today()
    check_request(request, adapter)
    params = adapter.params(request.params)
    lake = Lake(config.data_root)
    target = LakeTarget(lake, adapter.name, request.market, request.kind,
                        request.interval if request.kind == "klines" else None)
    cache = ArchiveCache(config.data_root)
    cache.clean_partial()
    with contextlib.suppress(FileNotFoundError):
        from cde_core.atomic import remove_stale_temps

        remove_stale_temps(target.market_dir())
    report = DownloadReport(exchange=adapter.name, market=request.market, kind=request.kind)

    todo: dict[str, list[date]] = {}
    for symbol in request.symbols:
        days, have = wanted_days(target, symbol, request.start, request.end, force=request.force)
        report.days.extend(DayOutcome(symbol=symbol, date=d, status="skipped") for d in have)
        if days:
            todo[symbol] = days
    _set_aside_unpublished(adapter, request.kind, todo, today, report)

    fetcher = ArchiveFetcher(adapter.base_url(config.download), config.download, cache, monitor,
                             recheck_missing=request.recheck_missing, allow_unverified=request.allow_unverified)
    try:
        fetched = _fetch_all(fetcher, adapter, request, target, todo, today, report, scaled(progress, 0.0, 0.7), cancel)
    finally:
        fetcher.close()

    jobs = []
    for symbol, days in todo.items():
        sources = tuple(sorted(fetched.get(symbol, []), key=lambda s: (s.file.first_day, s.file.period)))
        jobs.append(_extraction_job(adapter, params, target, symbol, sources, days))
    if jobs:
        executor = create_executor(config.executor)
        try:
            results = executor.run(jobs, progress=scaled(progress, 0.7, 1.0), cancel=cancel)
        finally:
            executor.close()
        for outcomes in results:
            report.days.extend(outcomes)
    if not request.keep_archives:
        _drop_extracted(cache, fetched, report)
    report.days.sort(key=lambda d: (d.symbol, d.date))
    progress(1.0, "done")
    return report


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
                    sources: tuple[SourceZip, ...], days: list[date]) -> Job:
    """The executor job that writes one symbol's partitions: the streaming trade extractor for trade
    kinds, the small-table extractor for the others."""
    key = f"{target.exchange}/{target.market}/{symbol}"
    if target.is_trades:
        prev_id, prev_ts = _previous_day_tail(target, symbol, days[0])
        job = SymbolExtraction(adapter, params, target.lake.root, target.market, target.kind, symbol, sources,
                               frozenset(days), prev_id, prev_ts)
        return Job(key=key, fn=extract_symbol, args=(job,))
    return Job(key=key, fn=extract_tables, args=(TableExtraction(adapter, params, target, symbol, sources,
                                                                 frozenset(days)),))


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
            outcomes = list(pool.map(lambda item: fetcher.fetch(item[1]), round_files))
            fallback: list[tuple[str, ArchiveFile]] = []
            for (symbol, file), outcome in zip(round_files, outcomes, strict=True):
                done += 1
                progress(done / total, file.name)
                if outcome.status == "missing" and file.period == "monthly":
                    month_days = [d for d in todo[symbol] if file.first_day <= d <= file.last_day]
                    planned = {f.rel_path for s, f in round_files if s == symbol}
                    extra = [f for f in daily_files(adapter, request.market, request.kind, symbol, month_days, today,
                                                    target.interval) if f.rel_path not in planned]
                    fallback.extend((symbol, f) for f in extra)
                    total += len(extra)
                    outcome = outcome.model_copy(update={"error": None})
                report.files.append(outcome)
                if outcome.status in ("downloaded", "cached"):
                    fetched.setdefault(symbol, []).append(
                        SourceZip(file, fetcher.cache.zip_path(file), outcome.url, outcome.sha256, outcome.unverified))
                elif outcome.status == "failed":
                    _fail_days(report, symbol, todo, file, outcome)
            round_files = fallback
    return fetched


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


def _drop_extracted(cache: ArchiveCache, fetched: dict[str, list[SourceZip]], report: DownloadReport) -> None:
    failed = {d.symbol for d in report.days if d.status in ("failed", "incomplete")}
    for symbol, sources in fetched.items():
        if symbol in failed:
            continue  # keep the verified zips so a re-run does not download them again
        for source in sources:
            cache.forget(source.file)
