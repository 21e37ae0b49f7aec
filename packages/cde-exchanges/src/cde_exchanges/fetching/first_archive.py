"""Where a symbol's daily archive starts, in O(log n) requests, for archives that cannot list their files.

A download of 1990–2023 for a symbol listed in 2021 would otherwise ask for ~11,000 absent daily files
one by one. OKX publishes no listing, so the first file that exists is searched for among the files a
round would fetch (in day order): gallop from the first (probe indices 0, 1, 3, 7, 15, … and the last)
until one exists, then bisect between the last absent probe and that one. Files before the one found
are not asked for; from it on, every file is fetched (and each absent one probed) as before, so gaps
after the start of the archive are never skipped.

The assumption, and what it risks: files before the first found are taken as absent, without asking
each. That is exact when the archive, once started, has no gap inside the last galloping step (the
bisection's window); a day published before such a gap and after the last absent probe would be
reported missing instead of downloaded. Exchanges' archives start on the listing day and their gaps are
rare single days, while the window is where the start is, so the risk is small; ``--recheck-missing``
turns the search off and asks for every file. A probe that answers neither "exists" nor "absent" (5xx,
a broken connection) ends the search: then every file is asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from loguru import logger

from cde_exchanges.fetching.archive_fetcher import ArchiveFetcher
from cde_exchanges.formats.archive_files import ArchiveFile

T = TypeVar("T")

#: below this many files a search saves nothing worth its probes
MIN_FILES = 16


def first_existing(files: Sequence[T], exists: Callable[[T], bool | None]) -> int | None:
    """Index of the first of ``files`` that ``exists`` (``len(files)`` when none does), or None when a
    probe was inconclusive. At most about 2·log2(n) + 2 probes."""
    n = len(files)
    if n == 0:
        return 0
    absent, step, probe = -1, 1, 0
    while True:  # gallop: the first existing index is in (absent, probe]
        found = exists(files[probe])
        if found is None:
            return None
        if found:
            break
        absent = probe
        if probe == n - 1:
            return n
        probe, step = min(probe + step, n - 1), step * 2
    present = probe
    while present - absent > 1:  # bisect, taking existence as monotone inside the window
        middle = (absent + present) // 2
        found = exists(files[middle])
        if found is None:
            return None
        if found:
            present = middle
        else:
            absent = middle
    return present


def files_before_first_archive(fetcher: ArchiveFetcher, round_files: Sequence[tuple[str, ArchiveFile]],
                               *, recheck_missing: bool = False) -> set[tuple[str, str]]:
    """(symbol, rel_path) of the daily files of a fetch round that lie before each symbol's first
    existing daily file, found by :func:`first_existing`: the round does not ask for them. Nothing
    when the archive lists its files (the listing answers exactly), with ``recheck_missing``, or for
    a symbol with fewer than :data:`MIN_FILES` daily files in the round. One log line per symbol
    whose search was inconclusive."""
    if fetcher.listing is not None or recheck_missing:
        return set()
    daily: dict[str, list[ArchiveFile]] = {}
    for symbol, file in round_files:
        if file.period == "daily":
            daily.setdefault(symbol, []).append(file)
    skipped: set[tuple[str, str]] = set()
    for symbol, files in daily.items():
        files = sorted({f.rel_path: f for f in files}.values(), key=lambda f: f.first_day)
        if len(files) < MIN_FILES:
            continue
        first = first_existing(files, fetcher.known_to_exist)
        if first is None:
            logger.warning(f"could not find where the {files[0].exchange} archive of {symbol} starts (a probe "
                           "answered neither 200 nor 404): asking for each day's file instead")
            continue
        skipped.update((symbol, f.rel_path) for f in files[:first])
    return skipped
