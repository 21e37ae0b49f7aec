"""numpy_view: the same values as pyarrow's to_numpy, zero copy, and no pandas import."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

from cde_core.arrow_views import numpy_view
from cde_core.errors import SchemaError


@pytest.mark.parametrize("kind", [pa.int64(), pa.int32(), pa.uint16(), pa.float64(), pa.float32(),
                                  pa.timestamp("us", tz="UTC"), pa.timestamp("ms")])
def test_values_equal_to_numpy_including_slices(kind: pa.DataType) -> None:
    array = pa.array(np.arange(-5, 20) if not pa.types.is_unsigned_integer(kind) else np.arange(25)).cast(kind)
    for piece in (array, array.slice(3), array.slice(7, 9), array.slice(25)):
        got = numpy_view(piece)
        want = piece.to_numpy(zero_copy_only=False)
        if pa.types.is_timestamp(kind):
            want = want.view(np.int64)
        assert got.dtype == want.dtype and got.tolist() == want.tolist()


def test_is_a_view_not_a_copy() -> None:
    array = pa.array(np.arange(10, dtype=np.int64))
    assert numpy_view(array).ctypes.data == array.buffers()[1].address


def test_refuses_nulls_and_non_numeric() -> None:
    with pytest.raises(SchemaError, match="null"):
        numpy_view(pa.array([1, None, 3]))
    with pytest.raises(SchemaError, match="string"):
        numpy_view(pa.array(["a"]))


def test_does_not_import_pandas() -> None:
    code = ("import sys, numpy as np, pyarrow as pa\n"
            "from cde_core.arrow_views import numpy_view\n"
            "values = np.arange(5, dtype=np.int64)\n"
            "array = pa.Array.from_buffers(pa.int64(), 5, [None, pa.py_buffer(values)])\n"
            "assert numpy_view(array).tolist() == [0, 1, 2, 3, 4]\n"
            "print('pandas' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
