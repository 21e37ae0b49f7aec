"""The bounded extraction path: line-aligned pieces from a reader thread, and the zip member inflated
and CRC-checked without ``ZipFile.open`` (tiny pieces end to end: ``test_exchanges_roundtrip``)."""

from __future__ import annotations

import io
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cde_core.errors import DataError
from cde_exchanges.formats.zip_member import InflatedMember, line_chunks, open_member


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30),
       st.integers(1, 64), st.booleans())
def test_line_chunks_are_whole_lines_and_lose_nothing(lines: list[bytes], size: int, final_newline: bool) -> None:
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    pieces = [bytes(p) for p in line_chunks(io.BytesIO(data), size)]
    assert b"".join(pieces) == data
    assert all(p.endswith(b"\n") for p in pieces[:-1]) and all(pieces)


class _Failing(io.BytesIO):
    def read(self, size: int | None = -1) -> bytes:
        if self.tell() > 10:
            raise OSError("disk went away")
        return super().read(size)


def test_line_chunks_reraise_reader_errors_and_stop_their_thread() -> None:
    with pytest.raises(OSError, match="disk went away"):
        list(line_chunks(_Failing(b"a,b\n" * 100), 8))
    chunks = line_chunks(io.BytesIO(b"a,b\n" * 10_000), 16)
    next(chunks)
    chunks.close()  # a consumer that stops early (an error downstream) must not leave the reader behind
    assert not [t for t in threading.enumerate() if t.name == "zip-member-reader"]


def _zip(path: Path, data: bytes, method: int) -> zipfile.ZipFile:
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        archive.writestr("inside.csv", data)
    return zipfile.ZipFile(path)


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
@pytest.mark.parametrize("size", [0, 5, 3_000_000])
def test_inflated_member_matches_zipfile(tmp_path: Path, method: int, size: int) -> None:
    data = np.random.default_rng(size).integers(48, 58, size, dtype=np.uint8).tobytes()
    archive = _zip(tmp_path / "a.zip", data, method)
    member = archive.infolist()[0]
    with open_member(archive, member) as fh:
        assert isinstance(fh, InflatedMember)
        assert b"".join(iter(lambda: fh.read(100_000), b"")) == archive.read(member)


def test_inflated_member_rejects_corruption(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    archive = _zip(path, b"1,2,3\n" * 50_000, zipfile.ZIP_DEFLATED)
    member = archive.infolist()[0]
    raw = bytearray(path.read_bytes())
    raw[member.header_offset + 60] ^= 0xFF  # a byte inside the deflate stream
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="zip member"), open_member(zipfile.ZipFile(path), member) as fh:
        while fh.read(1 << 16):
            pass
