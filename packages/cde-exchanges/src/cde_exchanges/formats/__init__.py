"""The exchanges' archive formats and the adapters that read them: file layouts and URLs, CSV layouts,
timestamp units, zip members, kline intervals. Knows nothing of downloading.
"""

from __future__ import annotations
