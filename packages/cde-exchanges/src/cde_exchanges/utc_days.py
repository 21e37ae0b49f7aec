"""UTC calendar days as the lake partitions them, shared by every layer (formats, lake, extraction,
download, fakes) so that none has to import a higher one for two lines of date arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

DAY_US = 86_400_000_000


def day_start_us(day: date) -> int:
    """Midnight UTC of ``day`` in µs since the epoch."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1_000_000


def days_between(start: date, end: date) -> list[date]:
    """Every day from ``start`` to ``end``, both included."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]
