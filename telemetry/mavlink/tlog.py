"""The ``.tlog`` recording format: what MAVProxy, QGroundControl and pymavlink write.

A tlog is a plain sequence of records, each an 8-byte big-endian count of
microseconds since the Unix epoch (UTC) followed by one raw MAVLink frame as it
arrived. There is no file header and no record length: a reader takes the frame's
length from its own header (MAVLink 1: 0xFE, 8 + payload bytes; MAVLink 2: 0xFD,
12 + payload bytes, plus 13 when the signed flag is set). pymavlink's
``mavutil.mavlink_connection("x.tlog")``, MAVProxy, ``mavlogdump.py`` and
UAVLogViewer read what this module writes.

``TlogWriter`` is blocking file I/O: run it off the event loop (a thread or
``asyncio.to_thread``). Reopening a file appends; a record torn by a crash at the
end of the file is cut off first, so the records appended after it stay readable.
Finding a torn record means reading the whole file; a writer that reopens a file it
closed itself hands back the ``TlogStamp`` from ``close_stamped`` to skip that.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Final

from telemetry.mavlink.messages import RawFrame

logger = logging.getLogger(__name__)

_TIME: Final = struct.Struct(">Q")
TIME_LEN: Final = _TIME.size
_V1: Final = 0xFE
_V2: Final = 0xFD
_SIGNED: Final = 0x01
_READ_CHUNK: Final = 1 << 16


class TlogFormatError(ValueError):
    """A tlog holds bytes that are not a record (not a torn last one)."""


def encode_record(t_s: float, raw: bytes) -> bytes:
    """Return one tlog record: ``t_s`` (UTC epoch seconds) as µs, then ``raw``."""
    return _TIME.pack(round(t_s * 1_000_000)) + raw


def frame_length(head: bytes | bytearray | memoryview) -> int | None:
    """Return the length of the MAVLink frame starting ``head`` (>= 3 bytes).

    None when the first byte is no MAVLink marker.
    """
    marker = head[0]
    if marker == _V2:
        return 12 + head[1] + (13 if head[2] & _SIGNED else 0)
    if marker == _V1:
        return 8 + head[1]
    return None


def _scan(path: Path) -> Iterator[tuple[int, bytes, int]]:
    """Yield (µs, frame, file offset after the record) for every whole record.

    Stops at a torn last record; raises ``TlogFormatError`` at bytes that cannot
    start a record.
    """
    with path.open("rb") as file:
        buffer = b""
        offset = 0  # of buffer[0] in the file
        while chunk := file.read(_READ_CHUNK):
            buffer += chunk
            start, size = 0, len(buffer)
            while start + TIME_LEN + 3 <= size:
                head = start + TIME_LEN
                length = frame_length(buffer[head : head + 3])
                if length is None:
                    raise TlogFormatError(
                        f"{path}: no MAVLink frame after the timestamp at byte "
                        f"{offset + start} (0x{buffer[head]:02x})"
                    )
                end = head + length
                if end > size:
                    break
                (t_us,) = _TIME.unpack_from(buffer, start)
                yield t_us, buffer[head:end], offset + end
                start = end
            buffer = buffer[start:]
            offset += start


def read_tlog(path: str | os.PathLike[str]) -> Iterator[tuple[float, bytes]]:
    """Yield (t_s, raw frame) for every record of the tlog at ``path``.

    ``t_s`` is UTC epoch seconds. A torn last record (a crash mid-write, or a
    writer still appending) is skipped; other bytes that are not a record raise
    ``TlogFormatError`` with their offset.
    """
    for t_us, frame, _ in _scan(Path(path)):
        yield t_us / 1_000_000, frame


def complete_length(path: str | os.PathLike[str]) -> int:
    """Return how many leading bytes of the tlog at ``path`` are whole records."""
    whole = 0
    for _, _, record_end in _scan(Path(path)):
        whole = record_end
    return whole


@dataclass(frozen=True)
class TlogStamp:
    """Which file, how long and when last changed: a tlog as its writer left it."""

    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> TlogStamp:
        """Return the stamp of the file ``st`` describes."""
        return cls(st.st_ino, st.st_size, st.st_mtime_ns)


class TlogWriter:
    """Appends records to one tlog file, buffered; ``close`` (or ``with``) flushes.

    Opening an existing file appends to it after cutting off a torn last record;
    a file that is no tlog raises ``TlogFormatError`` and is left untouched. That
    check reads the whole file, unless ``whole_at`` is the stamp ``close_stamped``
    returned and the file still matches it: then nothing touched it since the last
    whole record was written, and only a ``stat`` is paid.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        buffer_bytes: int = 1 << 16,
        *,
        whole_at: TlogStamp | None = None,
    ) -> None:
        self.path = Path(path)
        try:
            st: os.stat_result | None = self.path.stat()
        except FileNotFoundError:
            st = None
        if st is not None and (whole_at is None or TlogStamp.of(st) != whole_at):
            whole = complete_length(self.path)
            if whole < st.st_size:
                logger.warning(
                    "%s: cutting a torn last record (%d bytes) before appending",
                    self.path,
                    st.st_size - whole,
                )
                os.truncate(self.path, whole)
        self._file: BinaryIO = self.path.open("ab", buffering=buffer_bytes)

    def write(self, t_s: float, raw: bytes) -> None:
        """Append one frame received at ``t_s`` (UTC epoch seconds)."""
        self._file.write(encode_record(t_s, raw))

    def write_frames(self, frames: Iterable[RawFrame]) -> None:
        """Append every frame, stamped with its receive time."""
        self._file.write(b"".join(encode_record(f.t_s, f.raw) for f in frames))

    def write_records(self, records: bytes) -> None:
        """Append records already encoded (``encode_record`` output, concatenated)."""
        self._file.write(records)

    def flush(self) -> None:
        """Hand the buffered records to the operating system."""
        self._file.flush()

    def close(self) -> None:
        """Flush and close; further writes raise ``ValueError``."""
        self._file.close()

    def close_stamped(self) -> TlogStamp:
        """Flush, close, and return the stamp that lets a reopen skip the scan.

        Only valid when everything written was whole records, which is all
        ``write``, ``write_frames`` and ``encode_record`` output can be.
        """
        try:
            self._file.flush()
            return TlogStamp.of(os.fstat(self._file.fileno()))
        finally:
            self._file.close()

    @property
    def closed(self) -> bool:
        return self._file.closed

    def __enter__(self) -> TlogWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
