"""Telemetry logs (``.tlog``): what pymavlink, MAVProxy and UAVLogViewer read.

A tlog is a sequence of records: the time as 8 bytes, big-endian, microseconds since
the Unix epoch, then one raw MAVLink frame (1 or 2, signed or not). The writer
appends records; the reader walks them, working out each frame's length from its
header. A reader meets other people's files too, so when a record does not start
with a plausible time and a MAVLink start byte it skips ahead one byte at a time
until one does (``skipped_bytes`` counts them) rather than giving up.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

from simulator.errors import TlogError

_STAMP = struct.Struct(">Q")
MAVLINK1_MARKER = 0xFE
MAVLINK2_MARKER = 0xFD
_SIGNED_FLAG = 0x01
_V1_OVERHEAD = 8  # 6 header + 2 checksum
_V2_OVERHEAD = 12  # 10 header + 2 checksum
_SIGNATURE_LEN = 13
# Records stamped outside 2001-2100 are not records: resynchronise.
_MIN_STAMP_US = 978_307_200_000_000
_MAX_STAMP_US = 4_102_444_800_000_000


@dataclass(frozen=True)
class Record:
    """One tlog record: when (UTC epoch seconds) and the raw frame."""

    t_s: float
    frame: bytes


def frame_length(data: bytes | memoryview, offset: int = 0) -> int | None:
    """Return the length of the MAVLink frame starting at ``offset``.

    None when ``data`` does not start a frame there or is too short to tell.
    """
    if len(data) - offset < 3:
        return None
    marker, payload_len = data[offset], data[offset + 1]
    if marker == MAVLINK1_MARKER:
        return _V1_OVERHEAD + payload_len
    if marker == MAVLINK2_MARKER:
        signed = data[offset + 2] & _SIGNED_FLAG
        return _V2_OVERHEAD + payload_len + (_SIGNATURE_LEN if signed else 0)
    return None


class TlogWriter:
    """Appends records to a tlog file; use as a context manager or call close()."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.records = 0
        try:
            self._file: BinaryIO = self.path.open("wb")
        except OSError as exc:
            raise TlogError(f"{self.path}: cannot write a tlog: {exc}") from exc

    def write(self, t_s: float, frame: bytes) -> None:
        """Append ``frame`` stamped ``t_s`` (UTC epoch seconds)."""
        self._file.write(_STAMP.pack(round(t_s * 1_000_000)) + frame)
        self.records += 1

    def close(self) -> None:
        """Flush and close the file."""
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class TlogReader:
    """Iterates the records of a tlog file (read whole: tlogs are small)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self._data = self.path.read_bytes()
        except OSError as exc:
            raise TlogError(f"{self.path}: cannot read: {exc}") from exc
        self.skipped_bytes = 0

    def __iter__(self) -> Iterator[Record]:
        data = self._data
        offset = 0
        end = len(data)
        while offset + _STAMP.size < end:
            (stamp,) = _STAMP.unpack_from(data, offset)
            length = frame_length(data, offset + _STAMP.size)
            if (
                length is None
                or not _MIN_STAMP_US <= stamp <= _MAX_STAMP_US
                or offset + _STAMP.size + length > end
            ):
                offset += 1
                self.skipped_bytes += 1
                continue
            start = offset + _STAMP.size
            yield Record(stamp / 1_000_000, data[start : start + length])
            offset = start + length
        self.skipped_bytes += max(0, end - offset)


def read_tlog(path: str | os.PathLike[str]) -> list[Record]:
    """Return every record of the tlog at ``path``; TlogError if it holds none."""
    records = list(TlogReader(path))
    if not records:
        raise TlogError(f"{path}: no MAVLink records found (is it a .tlog?)")
    return records
