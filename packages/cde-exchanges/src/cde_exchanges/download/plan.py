"""Which archive files a request needs: monthly files for whole past months, daily files otherwise.

Partitions already in the lake (of the requested kind) are skipped (unless ``force``). Binance
publishes a month's file early in the next month, so the current month (UTC) is always fetched day by
day, and a month whose monthly file is missing (404) falls back to its daily files.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from cde_exchanges.formats.archive_exchange import ArchiveExchange
from cde_exchanges.formats.archive_files import ArchiveFile
from cde_exchanges.lake.targets import LakeTarget
from cde_exchanges.utc_days import days_between


def wanted_days(target: LakeTarget, symbol: str, start: date, end: date,
                *, force: bool) -> tuple[list[date], list[date]]:
    """(partition keys to fetch, keys already in the lake), in order."""
    keys = sorted({target.key(day) for day in days_between(start, end)})
    complete = set() if force else target.complete_keys(symbol, keys)
    todo, have = [], []
    for key in keys:
        (have if key in complete else todo).append(key)
    return todo, have


def daily_files(adapter: ArchiveExchange, market: str, kind: str, symbol: str, days: list[date],
                today: date, interval: str | None = None) -> list[ArchiveFile]:
    """Daily files of ``days`` plus the spill days after each (never beyond today); none for a kind
    published monthly only."""
    if not adapter.has_daily_files(kind):
        return []
    needed: set[date] = set()
    for day in days:
        for extra in range(adapter.spill_days + 1):
            candidate = day + timedelta(days=extra)
            if extra == 0 or candidate < today:
                needed.add(candidate)
    return [adapter.daily_file(market, kind, symbol, d, interval) for d in sorted(needed)]


def plan_files(adapter: ArchiveExchange, market: str, kind: str, symbol: str, days: list[date],
               today: date, interval: str | None = None) -> list[tuple[ArchiveFile, list[date]]]:
    """Files to try first, each with the wanted days it stands for (to fall back on when missing)."""
    by_month: dict[tuple[int, int], list[date]] = defaultdict(list)
    for day in days:
        by_month[(day.year, day.month)].append(day)
    plan: list[tuple[ArchiveFile, list[date]]] = []
    for (year, month), month_days in sorted(by_month.items()):
        monthly = None
        if (year, month) < (today.year, today.month):
            monthly = adapter.monthly_file(market, kind, symbol, year, month, interval)
        if monthly is not None:
            plan.append((monthly, month_days))
            after = monthly.last_day + timedelta(days=1)
            if adapter.spill_days and monthly.last_day in month_days and after not in days:
                # the month's last day may spill into the next file (OKX): fetch the spill days' daily files
                spill = [after + timedelta(days=i) for i in range(adapter.spill_days)]
                plan.extend((adapter.daily_file(market, kind, symbol, d, interval), []) for d in spill if d < today)
        else:
            plan.extend((f, [f.first_day])
                        for f in daily_files(adapter, market, kind, symbol, month_days, today, interval))
    return plan
