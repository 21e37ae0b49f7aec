"""Opening a trades day file for streaming, on a disk or in a bucket.

On a disk the file is memory-mapped: the pages are decoded straight from the page cache (no copy
into the process; ~0.1 CPU-s less per 20 M trades). Lake files are replaced by rename, never
rewritten in place, so a mapping never sees a file change under it.

In a bucket (:class:`cde_core.object_store.ObjectPath`) pyarrow's own S3 client reads it:
``pre_buffer`` coalesces the column chunks of a row group into a few large range requests issued
concurrently on pyarrow's I/O pool, instead of one small request per column page.
"""

from __future__ import annotations

import pyarrow.parquet as pq

from cde_core.lake_location import LakePath
from cde_core.object_store import ObjectPath


def open_trades_file(path: LakePath) -> pq.ParquetFile:
    """A ``ParquetFile`` over one trades partition, read the fastest way its store allows."""
    if isinstance(path, ObjectPath):
        return pq.ParquetFile(path.key, filesystem=path.fs, pre_buffer=True)
    return pq.ParquetFile(path, memory_map=True)
