"""What a download writes and what the lake holds: partition targets, the inventory and its cache, and
the cross-check of trades against klines.
"""

from __future__ import annotations
