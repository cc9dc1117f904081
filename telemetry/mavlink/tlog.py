"""The ``.tlog`` recording format: what MAVProxy, QGroundControl and pymavlink write.

A tlog is a plain sequence of records, each an 8-byte big-endian count of
microseconds since the Unix epoch (UTC) followed by one raw MAVLink frame as it
arrived. There is no file header and no record length: a reader takes the frame's
length from its own header (MAVLink 1: 0xFE, 8 + payload bytes; MAVLink 2: 0xFD,
12 + payload bytes, plus 13 when the signed flag is set). pymavlink's
``mavutil.mavlink_connection("x.tlog")``, MAVProxy, ``mavlogdump.py`` and
UAVLogViewer read what this module writes.

The one reader and writer of the project: the gateway's recorder and exports and
the simulator's ``--record`` / ``--replay`` all use it. A tlog is a file format, not
our server, so this module imports nothing from the rest of ``telemetry`` (only the
standard library): the simulator, which may not import SkyBerth, is allowed exactly
this one module (pyproject's import contracts).

Reading resynchronises: a reader meets other people's files and files damaged in
the middle, so where no record starts (no plausible time, no MAVLink start byte, or
a frame running past the end) it moves on one byte and tries again, counting what
it skipped (:attr:`TlogReader.skipped_bytes`). A torn last record (a crash
mid-write, or a writer still appending) is skipped that way too.

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
from typing import BinaryIO, Final, NamedTuple, Protocol

logger = logging.getLogger(__name__)

_TIME: Final = struct.Struct(">Q")
TIME_LEN: Final = _TIME.size
MAVLINK1_MARKER: Final = 0xFE
MAVLINK2_MARKER: Final = 0xFD
_SIGNED: Final = 0x01
_V1_OVERHEAD: Final = 8  # 6 header + 2 checksum
_V2_OVERHEAD: Final = 12  # 10 header + 2 checksum
_SIGNATURE_LEN: Final = 13
MAX_RECORD_LEN: Final = TIME_LEN + _V2_OVERHEAD + 255 + _SIGNATURE_LEN
"""The longest record: a signed MAVLink 2 frame with a 255-byte payload."""
# Times outside 2001-2100 are not records (resynchronise): this is what tells eight
# bytes of garbage before an 0xFD from a record.
_MIN_STAMP_US: Final = 978_307_200_000_000
_MAX_STAMP_US: Final = 4_102_444_800_000_000
_READ_CHUNK: Final = 1 << 16


class TlogFormatError(ValueError):
    """A file that is no tlog: it cannot be appended to (see ``TlogWriter``)."""


class Record(NamedTuple):
    """One tlog record: when it was received (UTC epoch seconds) and the raw frame."""

    t_s: float
    frame: bytes


class StampedFrame(Protocol):
    """A frame with its receive time, as the codec's ``RawFrame`` carries it."""

    @property
    def t_s(self) -> float: ...

    @property
    def raw(self) -> bytes: ...


def encode_record(t_s: float, raw: bytes) -> bytes:
    """Return one tlog record: ``t_s`` (UTC epoch seconds) as µs, then ``raw``."""
    return _TIME.pack(round(t_s * 1_000_000)) + raw


def frame_length(data: bytes | bytearray | memoryview, offset: int = 0) -> int | None:
    """Return the length of the MAVLink frame starting at ``data[offset]``.

    None when no MAVLink start byte is there, or fewer than 3 bytes to tell.
    """
    if len(data) - offset < 3:
        return None
    marker, payload_len = data[offset], data[offset + 1]
    if marker == MAVLINK2_MARKER:
        signed = data[offset + 2] & _SIGNED
        return _V2_OVERHEAD + payload_len + (_SIGNATURE_LEN if signed else 0)
    if marker == MAVLINK1_MARKER:
        return _V1_OVERHEAD + payload_len
    return None


def _plausible(t_us: int) -> bool:
    return _MIN_STAMP_US <= t_us <= _MAX_STAMP_US


class TlogReader:
    """Iterates the :class:`Record` s of the tlog at ``path``, resynchronising.

    The file is read in chunks when iterated (a recording may be large), so a
    missing or unreadable file raises ``OSError`` then. After a full pass,
    ``skipped_bytes`` is how many bytes were in no record (garbage, a torn tail).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.skipped_bytes = 0
        self.whole_length = 0
        """Bytes up to the end of the last record read: the rest is no record."""
        self._size = 0

    def __iter__(self) -> Iterator[Record]:
        self.skipped_bytes = self.whole_length = 0
        in_records = 0
        for t_us, frame, record_end in self._scan():
            in_records += TIME_LEN + len(frame)
            self.whole_length = record_end
            yield Record(t_us / 1_000_000, frame)
        self.skipped_bytes = self._size - in_records

    def _scan(self) -> Iterator[tuple[int, bytes, int]]:
        """Yield (µs, frame, file offset after the record) for every record."""
        self._size = 0
        with self.path.open("rb") as file:
            buffer = b""
            offset = 0  # of buffer[0] in the file
            while True:
                chunk = file.read(_READ_CHUNK)
                at_end = not chunk
                buffer += chunk
                self._size += len(chunk)
                start, size = 0, len(buffer)
                while start + TIME_LEN + 3 <= size:
                    head = start + TIME_LEN
                    length = frame_length(buffer, head)
                    (t_us,) = _TIME.unpack_from(buffer, start)
                    if length is None or not _plausible(t_us):
                        start += 1  # no record starts here: resynchronise
                        continue
                    end = head + length
                    if end > size:
                        if not at_end:
                            break  # the rest of the frame is in the next chunk
                        start += 1  # runs past the end: torn, or not a record
                        continue
                    yield t_us, buffer[head:end], offset + end
                    start = end
                if at_end:
                    return
                buffer = buffer[start:]
                offset += start


def read_tlog(path: str | os.PathLike[str]) -> Iterator[Record]:
    """Yield every :class:`Record` (``t_s``, ``frame``) of the tlog at ``path``.

    ``t_s`` is UTC epoch seconds. Bytes that are no record (garbage in the middle,
    a torn last record) are skipped; use :class:`TlogReader` to count them.
    """
    return iter(TlogReader(path))


def complete_length(path: str | os.PathLike[str]) -> int:
    """Return the offset just after the last whole record of the tlog at ``path``."""
    reader = TlogReader(path)
    for _ in reader:
        pass
    return reader.whole_length


def _could_be_torn_record(tail: bytes) -> bool:
    """Whether ``tail`` (no whole record) could be the start of one cut short."""
    if len(tail) >= MAX_RECORD_LEN:
        return False
    if len(tail) >= TIME_LEN and not _plausible(_TIME.unpack_from(tail)[0]):
        return False
    if len(tail) > TIME_LEN and tail[TIME_LEN] not in (
        MAVLINK1_MARKER,
        MAVLINK2_MARKER,
    ):
        return False
    length = frame_length(tail, TIME_LEN)
    return length is None or TIME_LEN + length > len(tail)


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

    Opening an existing file appends to it after cutting off a torn last record.
    Bytes in the middle that are no record stay (readers skip them), but a file
    whose end is more than a torn record, such as one that holds no record at
    all, is no tlog: it raises ``TlogFormatError`` and is left untouched. That
    check reads the whole file, unless ``whole_at`` is the stamp ``close_stamped``
    returned and the file still matches it: then nothing touched it since the last
    whole record was written, and only a ``stat`` is paid. ``append=False``
    starts the file afresh instead (a simulator's ``--record``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        buffer_bytes: int = 1 << 16,
        *,
        whole_at: TlogStamp | None = None,
        append: bool = True,
    ) -> None:
        self.path = Path(path)
        if append:
            self._cut_torn_tail(whole_at)
        self._file: BinaryIO = self.path.open(
            "ab" if append else "wb", buffering=buffer_bytes
        )

    def _cut_torn_tail(self, whole_at: TlogStamp | None) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return
        if whole_at is not None and TlogStamp.of(st) == whole_at:
            return
        whole = complete_length(self.path)
        if whole == st.st_size:
            return
        with self.path.open("rb") as file:
            file.seek(whole)
            tail = file.read(MAX_RECORD_LEN)
        if not _could_be_torn_record(tail):
            raise TlogFormatError(
                f"{self.path}: no tlog: {st.st_size - whole} bytes after byte "
                f"{whole} are no record (0x{tail[0]:02x}...)"
            )
        logger.warning(
            "%s: cutting a torn last record (%d bytes) before appending",
            self.path,
            st.st_size - whole,
        )
        os.truncate(self.path, whole)

    def write(self, t_s: float, raw: bytes) -> None:
        """Append one frame received at ``t_s`` (UTC epoch seconds)."""
        self._file.write(encode_record(t_s, raw))

    def write_frames(self, frames: Iterable[StampedFrame]) -> None:
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
