"""Arrow arrays as numpy views, without pyarrow's pandas detour.

Why not ``pa.Array.to_numpy``: its first call in a process imports pandas (pyarrow looks for
pandas-backed extension types), which costs ~60 MB of resident memory and 0.3–1.2 CPU-s in a
process that never uses pandas, e.g. an extraction worker.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from cde_core.errors import SchemaError


def numpy_view(array: pa.Array) -> np.ndarray:
    """The values of a null-free integer, float or timestamp array (timestamps as int64), zero copy."""
    kind = array.type
    if pa.types.is_floating(kind):
        dtype = np.dtype(f"f{kind.bit_width // 8}")
    elif pa.types.is_integer(kind):
        dtype = np.dtype(f"{'i' if pa.types.is_signed_integer(kind) else 'u'}{kind.bit_width // 8}")
    elif pa.types.is_timestamp(kind):
        dtype = np.dtype(np.int64)
    else:
        raise SchemaError(f"no numpy view of a {kind} array", hint="cast it to a numeric type first")
    if array.null_count:
        raise SchemaError(f"no numpy view of an array with {array.null_count} null value(s)",
                          hint="drop or fill the nulls first")
    data = array.buffers()[1]
    if data is None:  # an empty array may have no buffer
        return np.empty(0, dtype=dtype)
    return np.frombuffer(data, dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize)
