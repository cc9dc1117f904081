"""The recorder's tlog writer: one thread that appends raw MAVLink to ``.tlog`` files.

Each recording ``<key>`` is the file ``<tlog_dir>/<key>.tlog`` (8-byte big-endian
microseconds since the Unix epoch + the raw frame, per record: what pymavlink,
MAVProxy and UAVLogViewer read), so a slow or absent database never stops the raw
recording. Callers hand it records already encoded, so per frame it does no Python
work at all; it keeps up to ``max_open_tlogs`` files open so a large fleet is not
reopened on every flush. Each open file is written every ``tlog_flush_interval_s``:
every write is a system call that gives the GIL up and must win it back from the
busy event loop, and a thousand files written twice a second cost the loop two
thousand hand-overs. A recording's first records open its file within
``flush_interval_s``.

Frames the directory refuses are kept for the next flush (up to
``MAX_TLOG_PENDING_BYTES``); what is still unwritten when the thread stops is
counted as dropped and logged.
"""

from __future__ import annotations

import functools
import logging
import math
import queue
import re
import time
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from telemetry.log_limits import RateLimitedLog
from telemetry.mavlink.tlog import (
    TIME_LEN,
    TlogFormatError,
    TlogStamp,
    TlogWriter,
    frame_length,
)
from telemetry.recording.writer_state import Barrier, RecorderState, Stop

logger = logging.getLogger(__name__)

TLOG_SUFFIX = ".tlog"
_KEY_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_MAX_KEY_SEGMENTS = 4
MAX_TLOG_PENDING_BYTES = 64 * 1024 * 1024
"""Raw frames kept in memory while the tlog directory cannot be written."""
MAX_OPEN_TLOGS = 8192
"""The most tlog files ``default_max_open_tlogs`` ever suggests keeping open."""
_FALLBACK_OPEN_TLOGS = 256
_MIN_RECORD_BYTES = TIME_LEN + 8  # a MAVLink 1 frame with no payload
# Every flush writes then flushes, so a big buffer per file buys nothing, and with
# thousands of files open 64 KiB each would add up.
_TLOG_BUFFER_BYTES = 8192
# Stamps of files the writer closed itself (LRU-evicted), so reopening them skips
# the torn-record scan; a few ints per recording, bounded all the same.
_MAX_TLOG_STAMPS = 65_536


def check_tlog_key(key: str) -> str:
    """Return ``key`` if it names a recording safely, else raise ``ValueError``.

    A key is one to four ``/``-separated segments of letters, digits, ``-``, ``_``
    and ``.``, each starting with a letter or digit (so never ``..``): it becomes a
    path under the tlog directory and must not leave it.
    """
    segments = key.split("/")
    if len(segments) > _MAX_KEY_SEGMENTS or not all(
        _KEY_SEGMENT.fullmatch(s) for s in segments
    ):
        raise ValueError(
            f"tlog key {key!r}: use 1-{_MAX_KEY_SEGMENTS} '/'-separated names of "
            "letters, digits, '-', '_' or '.', each starting with a letter or digit"
        )
    return key


# The gateway names the same ~1,000 recordings every second; a regex per call would
# be pure waste. Bad keys raise and so are never cached.
checked_key = functools.lru_cache(maxsize=8192)(check_tlog_key)


def default_max_open_tlogs() -> int:
    """Return how many tlog files a recorder keeps open unless told otherwise.

    Half the process's soft ``RLIMIT_NOFILE``, at most ``MAX_OPEN_TLOGS``: a fleet
    of thousands stays open when the limit allows (reopening costs far more than
    an idle descriptor), and half is left for sockets, database connections and
    the web server. 256 where the limit cannot be read.
    """
    try:
        import resource
    except ImportError:  # not a Unix
        return _FALLBACK_OPEN_TLOGS
    try:
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):
        return _FALLBACK_OPEN_TLOGS
    if soft == resource.RLIM_INFINITY or soft < 0:
        return MAX_OPEN_TLOGS
    return max(1, min(MAX_OPEN_TLOGS, soft // 2))


def checked_records(key: str, records: bytes | bytearray, count: int) -> bytes:
    """``records`` as bytes once ``record_tlog``'s checks pass; ``ValueError`` else."""
    checked_key(key)
    if not isinstance(records, bytes | bytearray) or not records:
        raise ValueError(f"tlog {key}: records must be non-empty bytes")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"tlog {key}: count must be an int >= 1, not {count!r}")
    if len(records) < count * _MIN_RECORD_BYTES:
        raise ValueError(
            f"tlog {key}: {len(records)} bytes cannot hold {count} record(s)"
        )
    if frame_length(records[TIME_LEN : TIME_LEN + 3]) is None:
        raise ValueError(
            f"tlog {key}: no MAVLink frame after the first timestamp "
            "(records must be encode_record output)"
        )
    # bytes() of bytes is the same object; a bytearray is copied, since the caller
    # may reuse it before the writer thread gets to it.
    return bytes(records)


def tlog_bytes_under(directory: Path) -> int:
    """Bytes of the ``.tlog`` files under ``directory`` (0 if it does not exist)."""
    total = 0
    for path in directory.rglob(f"*{TLOG_SUFFIX}"):
        try:
            total += path.stat().st_size
        except OSError:
            continue  # removed meanwhile
    return total


# --- jobs ------------------------------------------------------------------------


@dataclass(frozen=True)
class Records:
    """Encoded records to append, per recording."""

    items: tuple[tuple[str, bytes, int], ...]
    """(key, encoded records, record count) per recording."""
    size: int = 0
    """Bytes of records in ``items`` (counted in ``tlog_queued_bytes`` while queued)."""


@dataclass(frozen=True)
class PurgeTlogs:
    """Remove tlog files last written before ``before_epoch_s``; answer the count."""

    before_epoch_s: float
    result: Future[int]


TlogJob = Records | PurgeTlogs | Barrier | Stop


class _PendingTlog:
    """Records of one recording waiting for the next flush."""

    __slots__ = ("chunks", "count", "size")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.count = 0
        self.size = 0


# --- the writer --------------------------------------------------------------------


class TlogFileWriter:
    """Takes ``TlogJob``s from ``queue`` and appends them to the files; ``run`` is
    the thread's body.

    ``tlog_dir`` None writes nothing (the facade drops such frames before queuing).
    Everything but ``queue`` is touched by the writer thread only, or by ``purge``
    when no thread runs.
    """

    def __init__(
        self,
        tlog_dir: Path | None,
        state: RecorderState,
        *,
        flush_interval_s: float,
        tlog_flush_interval_s: float,
        max_open_tlogs: int,
        budget_bytes: int | None = None,
    ) -> None:
        self._tlog_dir = tlog_dir
        self._budget_bytes = budget_bytes
        self._used_bytes: int | None = None
        """Bytes of ``.tlog`` files under ``tlog_dir``: measured on the first
        records, kept up to date by flushes, measured again after a purge."""
        self._over_budget = False
        self._state = state
        self._flush_interval_s = flush_interval_s
        self._tlog_flush_interval_s = tlog_flush_interval_s
        self.max_open_tlogs = max_open_tlogs
        self.queue: queue.SimpleQueue[TlogJob] = queue.SimpleQueue()
        self._log = RateLimitedLog(logger)
        self._pending: dict[str, _PendingTlog] = {}
        self._pending_bytes = 0
        self._files: OrderedDict[str, TlogWriter] = OrderedDict()
        self._stamps: OrderedDict[str, TlogStamp] = OrderedDict()
        self._dirs_made: set[Path] = set()
        """Folders known to exist (one mkdir each, not one per file opened)."""

    def run(self) -> None:
        """Write jobs until a ``Stop`` was handled (the writer thread's body)."""
        # Open files are written every tlog_flush_interval_s; a key with no open
        # file yet is opened within flush_interval_s, so a fleet that appears at
        # once opens its files then, not in a burst seconds into its flights.
        next_flush = next_open = math.inf
        stopping = False
        while not stopping:
            due_s = min(next_flush, next_open)
            timeout = min(max(due_s - time.monotonic(), 0.0), 3600.0)
            try:
                job: TlogJob | None = self.queue.get(timeout=timeout)
            except queue.Empty:
                job = None
            now = time.monotonic()
            if isinstance(job, Records):
                with self._state.lock:
                    self._state.tlog_queued_bytes -= job.size
                opening = False
                for key, records, count in self._within_budget(job.items):
                    pending = self._pending.get(key)
                    if pending is None:
                        pending = self._pending[key] = _PendingTlog()
                        opening = opening or key not in self._files
                    pending.chunks.append(records)
                    pending.count += count
                    pending.size += len(records)
                    self._pending_bytes += len(records)
                if next_flush == math.inf:
                    next_flush = now + self._tlog_flush_interval_s
                if opening and next_open == math.inf:
                    next_open = now + self._flush_interval_s
            stopping = isinstance(job, Stop)
            if stopping or isinstance(job, PurgeTlogs | Barrier) or now >= next_flush:
                self._flush()
                next_flush = (
                    now + self._tlog_flush_interval_s if self._pending else math.inf
                )
                next_open = math.inf
            elif now >= next_open:
                self._flush(unopened_only=True)
                next_open = math.inf
            if isinstance(job, PurgeTlogs):
                try:
                    job.result.set_result(self.purge(job.before_epoch_s))
                except Exception as exc:
                    job.result.set_exception(exc)
            elif isinstance(job, Barrier):
                job.done.set()
        for key, writer in self._files.items():
            try:
                writer.close()
            except OSError as exc:
                logger.error("tlog %s: could not close: %s", key, exc)
        self._files.clear()
        if self._pending:
            lost = sum(p.count for p in self._pending.values())
            logger.error("tlog writer stopped with %d frame(s) not written", lost)
            with self._state.lock:
                self._state.dropped += lost

    def _flush(self, *, unopened_only: bool = False) -> None:
        if self._tlog_dir is None:
            return
        written = 0
        for key in list(self._pending):
            if unopened_only and key in self._files:
                continue
            pending = self._pending[key]
            try:
                writer = self._writer(self._tlog_dir, key)
                writer.write_records(b"".join(pending.chunks))
                writer.flush()
            except OSError as exc:
                self._error(key, pending.count, exc)
                continue
            del self._pending[key]
            self._pending_bytes -= pending.size
            written += pending.count
            if self._used_bytes is not None:
                self._used_bytes += pending.size
        with self._state.lock:
            self._state.tlog_records += written

    def _within_budget(
        self, items: tuple[tuple[str, bytes, int], ...]
    ) -> list[tuple[str, bytes, int]]:
        """The items that fit the disk budget; the rest are counted as dropped
        (the first time the budget is reached, one clear ERROR line says so)."""
        if self._budget_bytes is None or self._tlog_dir is None:
            return list(items)
        if self._used_bytes is None:
            self._used_bytes = tlog_bytes_under(self._tlog_dir)
        room = self._budget_bytes - self._used_bytes - self._pending_bytes
        kept: list[tuple[str, bytes, int]] = []
        dropped = 0
        for item in items:
            if len(item[1]) <= room:
                kept.append(item)
                room -= len(item[1])
            else:
                dropped += item[2]
        if dropped:
            with self._state.lock:
                self._state.dropped += dropped
                self._state.tlog_budget_dropped += dropped
            if not self._over_budget:
                self._over_budget = True
                logger.error(
                    "tlog disk budget reached: %d of %d bytes used under %s; raw "
                    "MAVLink frames are no longer recorded (incidents, evidence and "
                    "tracks still are) until old recordings are purged "
                    "(SKYBERTH_RETENTION_DAYS) or SKYBERTH_TLOG_BUDGET_MB is raised",
                    self._used_bytes + self._pending_bytes,
                    self._budget_bytes,
                    self._tlog_dir,
                )
        elif self._over_budget and room > self._budget_bytes // 10:
            self._over_budget = False
            logger.warning("tlog disk budget: room again; recording raw frames")
        return kept

    def _error(self, key: str, count: int, exc: OSError) -> None:
        handle = self._files.pop(key, None)
        self._dirs_made.clear()  # a folder may be what went missing
        # The failed write may have left a torn record: the next open must scan.
        self._stamps.pop(key, None)
        if handle is not None:
            try:
                handle.close()
            except OSError:
                pass  # already failing; the error below says what happened
        kept = self._pending_bytes <= MAX_TLOG_PENDING_BYTES
        if not kept:
            self._pending_bytes -= self._pending.pop(key).size
        with self._state.lock:
            self._state.tlog_errors += 1
            self._state.dropped += 0 if kept else count
        self._log(
            logging.ERROR,
            f"tlog-{key}",
            "tlog %s: %s; %d frame(s) %s",
            key,
            exc,
            count,
            "kept for the next flush" if kept else "dropped (too much is pending)",
        )

    def _writer(self, directory: Path, key: str) -> TlogWriter:
        writer = self._files.get(key)
        if writer is not None:
            self._files.move_to_end(key)
            return writer
        path = directory / f"{key}{TLOG_SUFFIX}"
        if path.parent not in self._dirs_made:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs_made.add(path.parent)
        stamp = self._stamps.pop(key, None)
        try:
            writer = TlogWriter(path, _TLOG_BUFFER_BYTES, whole_at=stamp)
        except TlogFormatError as exc:
            # Not a tlog (its tail is more than a torn record): keep its bytes, start a
            # fresh one.
            aside = path.with_name(f"{path.name}.bad-{time.time_ns()}")
            path.rename(aside)
            logger.error("%s; moved aside to %s, recording anew", exc, aside.name)
            writer = TlogWriter(path, _TLOG_BUFFER_BYTES)
        self._files[key] = writer
        while len(self._files) > self.max_open_tlogs:
            self._evict_oldest()
        return writer

    def _evict_oldest(self) -> None:
        key, oldest = self._files.popitem(last=False)
        try:
            self._stamps[key] = oldest.close_stamped()
        except OSError as exc:
            # Everything was flushed after its write, so nothing is lost; without
            # a stamp the next open just scans the file for a torn record.
            logger.warning("tlog %s: could not close: %s", key, exc)
            return
        while len(self._stamps) > _MAX_TLOG_STAMPS:
            self._stamps.popitem(last=False)

    def purge(self, before_epoch_s: float) -> int:
        """Remove tlog files last modified before ``before_epoch_s``; return how
        many. Writer thread only, or any thread when none runs."""
        if self._tlog_dir is None or not self._tlog_dir.is_dir():
            return 0
        removed = 0
        for path in self._tlog_dir.rglob(f"*{TLOG_SUFFIX}"):
            try:
                if path.stat().st_mtime >= before_epoch_s:
                    continue
                key = path.relative_to(self._tlog_dir).as_posix()[: -len(TLOG_SUFFIX)]
                handle = self._files.pop(key, None)
                self._stamps.pop(key, None)
                if handle is not None:
                    handle.close()
                path.unlink()
                removed += 1
            except OSError as exc:
                logger.warning("retention: could not remove %s: %s", path, exc)
        self._used_bytes = None  # measured again with the next records
        return removed
