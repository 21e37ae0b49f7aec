"""Fetching archive files over HTTP and keeping the verified ones (and "no data" markers) in the cache.
"""

from __future__ import annotations
