"""Where a symbol's daily archive starts, in O(log n) requests, for archives that cannot list their files.

A download of 1990–2023 for a symbol listed in 2021 would otherwise ask for ~11,000 absent daily files
one by one. OKX publishes no listing, so the first file that exists is searched for among the files a
round would fetch (in day order): gallop from the first (probe indices 0, 1, 3, 7, 15, … and the last)
until one exists, bisect between the nearest absent probe and that one, then check the
:data:`MAX_GAP` files before the one found; if one of those exists after all (the bisection stepped on
a gap), search again below it. Files before the one found are not asked for; from it on, every file
is fetched (and each absent one asked for) as before, so gaps after the start are never skipped.

The assumption: inside a symbol's archive, no :data:`MAX_GAP` consecutive daily files are missing.
Then the answer is exact: a file before the :data:`MAX_GAP` absent ones would make them such a gap.
Exchanges' archives start on the listing day and their gaps are rare single days; a symbol whose
archive pauses for longer (a delisting and a relisting) would have its days before the pause reported
missing instead of downloaded, and ``--recheck-missing`` (which turns the search off and asks for
every file) downloads them. When no probe finds a file (no archive in the range, or one that ends more
than :data:`MAX_GAP` files before the range does: the search looks only among the range's last files
for it) or a probe answers neither "exists" nor "absent" (5xx, a broken connection), nothing is
skipped: every file is asked for, with one log line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from loguru import logger

from cde_core.progress import CancelToken
from cde_exchanges.fetching.archive_fetcher import ArchiveFetcher
from cde_exchanges.formats.archive_files import ArchiveFile

T = TypeVar("T")

#: the longest run of missing daily files assumed possible inside an archive (see the module docstring)
MAX_GAP = 31
#: below this many files a search saves nothing worth its probes
MIN_FILES = 4 * MAX_GAP


def first_existing(files: Sequence[T], exists: Callable[[T], bool | None], *, max_gap: int = MAX_GAP) -> int | None:
    """Index of the first of ``files`` that ``exists``, or None when the search cannot tell (a probe was
    inconclusive, or no probe found any file: a symbol without an archive in the range, or one whose
    archive ends more than ``max_gap`` files before the range does). Exact when no ``max_gap``
    consecutive files are missing between the first existing one and the one the search lands on;
    about 2·log2(n) + 2·``max_gap`` probes, each file probed once at most."""
    n = len(files)
    known: dict[int, bool] = {}

    def probe(i: int) -> bool | None:
        if i not in known:
            answer = exists(files[i])
            if answer is None:
                return None
            known[i] = answer
        return known[i]

    present = None
    step, index = 1, 0
    while index < n:  # gallop until a file exists
        found = probe(index)
        if found is None:
            return None
        if found:
            present = index
            break
        if index == n - 1:
            break
        index, step = min(index + step, n - 1), step * 2
    for index in range(n - 2, max(n - 1 - max_gap, 0) - 1, -1):  # the range may end after the archive:
        if present is not None:  # look for its last files among the range's last ones
            break
        found = probe(index)
        if found is None:
            return None
        if found:
            present = index
    if present is None:
        return None
    while True:
        absent = max((i for i, there in known.items() if not there and i < present), default=-1)
        while present - absent > 1:  # bisect, taking existence as monotone inside the window
            middle = (absent + present) // 2
            found = probe(middle)
            if found is None:
                return None
            if found:
                present = middle
            else:
                absent = middle
        earlier = None
        for i in range(present - 1, max(present - max_gap, 0) - 1, -1):  # the max_gap files before it
            found = probe(i)
            if found is None:
                return None
            if found:
                earlier = i
                break
        if earlier is None:
            return present
        present = earlier  # the bisection stepped on a gap: the archive starts further back


def files_before_first_archive(fetcher: ArchiveFetcher, round_files: Sequence[tuple[str, ArchiveFile]],
                               *, recheck_missing: bool = False,
                               cancel: CancelToken | None = None) -> set[tuple[str, str]]:
    """(symbol, rel_path) of the daily files of a fetch round that lie before each symbol's first
    existing daily file, found by :func:`first_existing`: the round does not ask for them. Nothing
    when the archive lists its files (the listing answers exactly), with ``recheck_missing``, or for
    a symbol with fewer than :data:`MIN_FILES` daily files in the round. One log line per symbol
    whose search was inconclusive. ``cancel`` is polled before each probe."""

    def exists(file: ArchiveFile) -> bool | None:
        if cancel is not None:
            cancel.raise_if_cancelled("download")
        return fetcher.known_to_exist(file)

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
        first = first_existing(files, exists)
        if first is None:
            logger.warning(f"could not find where the {files[0].exchange} archive of {symbol} starts in "
                           f"{files[0].first_day}..{files[-1].first_day} (no probed day had a file, or a probe "
                           "answered neither 200 nor 404): asking for each day's file instead")
            continue
        skipped.update((symbol, f.rel_path) for f in files[:first])
    return skipped
