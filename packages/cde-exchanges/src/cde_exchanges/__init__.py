"""cde-exchanges: public exchange tick archives → canonical trades in the Parquet lake."""

from __future__ import annotations

__all__: list[str] = []
