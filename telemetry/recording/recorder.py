"""The telemetry recorder: every write the gateway makes, off the event loop.

The gateway calls these methods from its event loop; each only checks its input and
puts a job on a queue, so the loop never waits on the database or the disk. Two
daemon threads do the work:

- the **database writer** inserts incidents at once (an incident reaches viewers
  only after it is stored, so latency matters), then their evidence and timeline
  events, and batches replay positions (one transaction per ``batch_rows`` rows or
  per ``flush_interval_s``, whichever comes first);
- the **tlog writer** appends raw MAVLink frames to ``<tlog_dir>/<key>.tlog``
  (8-byte big-endian microseconds since the Unix epoch + the raw frame, per record:
  what pymavlink, MAVProxy and UAVLogViewer read), so a slow or absent database
  never stops the raw recording. Callers hand it records already encoded
  (``record_tlog``), so per frame it does no Python work at all; it keeps up to
  ``max_open_tlogs`` files open so a large fleet is not reopened on every flush.
  Each open file is written every ``tlog_flush_interval_s``: every write is a
  system call that gives the GIL up and must win it back from the busy event loop,
  and a thousand files written twice a second cost the loop two thousand
  hand-overs. A recording's first records open its file within
  ``flush_interval_s``.

Failures. Transient database errors (``OperationalError`` such as "database is
locked", a reset connection, a pool timeout) are retried with exponential back-off
for up to ``retry_budget_s``; a job that still fails, or fails for another reason,
is logged and *held* in memory, retried every ``held_retry_s`` and at ``close``.
Nothing is dropped silently: the only drops are replay positions beyond
``max_pending_rows`` (the database has been away too long), calls after ``close``,
data the database can never take (an event for an incident that does not exist),
and raw frames the tlog directory still refuses at ``close``; each is counted in
``counters().dropped`` and logged.

``close`` drains both queues and returns once everything queued was written (or
what could not be written is held and logged).
"""

from __future__ import annotations

import functools
import logging
import math
import queue
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import exc as sa_exc

from telemetry.incidents.model import (
    EvidenceBuilder,
    EvidenceFrame,
    EvidenceSample,
    IncidentNotFound,
    NewIncident,
    TrackSample,
)
from telemetry.incidents.repository import IncidentRepository
from telemetry.mavlink.tlog import (
    TIME_LEN,
    TlogFormatError,
    TlogStamp,
    TlogWriter,
    encode_record,
    frame_length,
)
from telemetry.recording.track_store import TrackStore

logger = logging.getLogger(__name__)

IncidentDone = Callable[[int, bool], None]
"""Called from the writer thread with ``(incident id, created)`` once stored."""

TLOG_SUFFIX = ".tlog"
_KEY_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_MAX_KEY_SEGMENTS = 4
_LOG_EVERY_S = 10.0
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
_checked_key = functools.lru_cache(maxsize=8192)(check_tlog_key)


def default_max_open_tlogs() -> int:
    """Return how many tlog files a recorder keeps open unless told otherwise.

    Half the process's soft ``RLIMIT_NOFILE``, at most ``MAX_OPEN_TLOGS``: a fleet
    of thousands stays open when the limit allows (reopening costs far more than
    an idle descriptor), and half is left for sockets, database connections and
    the web server. 256 where the
    limit cannot be read.
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


def _check_frames(frames: Sequence[EvidenceFrame], what: str) -> list[EvidenceFrame]:
    checked: list[EvidenceFrame] = []
    for t_s, raw in frames:
        if not isinstance(raw, bytes | bytearray) or not raw:
            raise ValueError(f"{what}: frame at {t_s} is not non-empty bytes")
        if not (math.isfinite(t_s) and 0 <= t_s < 2**63 / 1e6):
            raise ValueError(f"{what}: frame time {t_s} is not epoch seconds")
        checked.append((float(t_s), bytes(raw)))
    return checked


def _is_transient(exc: BaseException) -> bool:
    # Locks, dropped connections and pool exhaustion pass; constraint violations,
    # missing tables and bad data do not get better by waiting a second.
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(
        exc,
        sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.DisconnectionError
        | sa_exc.TimeoutError,
    )


@dataclass(frozen=True)
class RecorderCounters:
    """A snapshot of what the recorder has done (all rows/records since start)."""

    queued: int
    """Rows accepted for the database: incidents, evidence, events, positions."""
    written: int
    """Of those, rows stored (evidence already stored counts as written)."""
    retries: int
    """Transient database errors retried."""
    failed: int
    """Write attempts that gave up (the data is held for a later retry)."""
    dropped: int
    """Rows or frames discarded: positions over the memory cap, calls after close."""
    held: int
    """Rows now held in memory after a failed write."""
    tlog_records: int
    """Frames appended to tlog files."""
    tlog_errors: int
    """Failed tlog writes (the frames are kept and written on the next flush)."""


@dataclass(frozen=True)
class PurgeResult:
    """What a retention sweep deleted."""

    track_rows: int
    tlog_files: int


# --- jobs ------------------------------------------------------------------------


@dataclass(frozen=True)
class _OpenIncident:
    new: NewIncident
    before: Sequence[EvidenceSample]
    frames: Sequence[EvidenceFrame]
    on_done: IncidentDone
    later: EvidenceBuilder | None = None
    rows: int = 1
    """The incident itself; its evidence is written (and counted) as a follow-up."""


@dataclass(frozen=True)
class _Evidence:
    incident_id: int
    samples: Sequence[EvidenceSample]
    frames: Sequence[EvidenceFrame]
    later: EvidenceBuilder | None = None
    """Builds more rows in the writer thread (see ``open_incident``)."""

    @property
    def rows(self) -> int:
        return len(self.samples) + len(self.frames)


@dataclass(frozen=True)
class _Event:
    incident_id: int
    at: datetime
    kind: str
    details: Mapping[str, Any]
    rows: int = 1


@dataclass(frozen=True)
class _Track:
    samples: Sequence[TrackSample]

    @property
    def rows(self) -> int:
        return len(self.samples)


@dataclass(frozen=True)
class _Barrier:
    done: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class _Stop:
    pass


_DbJob = _OpenIncident | _Evidence | _Event | _Track | _Barrier | _Stop
_Written = _OpenIncident | _Evidence | _Event | _Track


@dataclass(frozen=True)
class _Records:
    items: tuple[tuple[str, bytes, int], ...]
    """(key, encoded records, record count) per recording."""


@dataclass(frozen=True)
class _PurgeTlogs:
    before_epoch_s: float
    result: Future[int]


_TlogJob = _Records | _PurgeTlogs | _Barrier | _Stop


class _PendingTlog:
    """Records of one recording waiting for the next flush."""

    __slots__ = ("chunks", "count", "size")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.count = 0
        self.size = 0


class _RateLimitedLog:
    """Logs one message per ``what`` at most every ``_LOG_EVERY_S`` seconds."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def __call__(self, level: int, what: str, msg: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last.get(what, -math.inf) >= _LOG_EVERY_S:
            self._last[what] = now
            logger.log(level, msg, *args)


def _checked_records(key: str, records: bytes | bytearray, count: int) -> bytes:
    """``records`` as bytes once ``record_tlog``'s checks pass; ``ValueError`` else."""
    _checked_key(key)
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


# --- the recorder ------------------------------------------------------------------


class TelemetryRecorder:
    """Writes incidents, evidence, tracks and tlogs from background threads.

    Call ``start()`` (or use it as a context manager) before or after queuing;
    ``close()`` drains and stops. The ``record_*``/``open_incident``/``add_*``
    methods are safe from any thread and never block on I/O. ``tlog_dir`` None
    disables raw recording (``record_tlog``/``record_frames`` then count the frames
    as dropped). ``max_open_tlogs`` None means ``default_max_open_tlogs()``; past
    it, the least recently written files are closed (and reopened when needed).
    """

    def __init__(
        self,
        incidents: IncidentRepository,
        tracks: TrackStore,
        tlog_dir: Path | None,
        *,
        flush_interval_s: float = 0.5,
        tlog_flush_interval_s: float = 5.0,
        batch_rows: int = 1000,
        max_pending_rows: int = 500_000,
        retry_budget_s: float = 30.0,
        held_retry_s: float = 30.0,
        max_open_tlogs: int | None = None,
    ) -> None:
        if (
            flush_interval_s <= 0
            or tlog_flush_interval_s <= 0
            or batch_rows < 1
            or max_pending_rows < batch_rows
        ):
            raise ValueError(
                "flush intervals must be positive, batch_rows at least 1 and "
                "max_pending_rows at least batch_rows"
            )
        self._incidents = incidents
        self._tracks = tracks
        self._tlog_dir = tlog_dir
        self._flush_interval_s = flush_interval_s
        self._tlog_flush_interval_s = tlog_flush_interval_s
        self._batch_rows = batch_rows
        self._max_pending_rows = max_pending_rows
        self._retry_budget_s = retry_budget_s
        self._held_retry_s = held_retry_s
        self._max_open_tlogs = max(
            1,
            default_max_open_tlogs() if max_open_tlogs is None else max_open_tlogs,
        )

        self._lock = threading.Lock()
        self._closed = False
        self._close_deadline = math.inf
        self._db_queue: queue.SimpleQueue[_DbJob] = queue.SimpleQueue()
        self._tlog_queue: queue.SimpleQueue[_TlogJob] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._log = _RateLimitedLog()

        self._queued = self._written = self._retries = self._failed = 0
        self._dropped = self._tlog_records = self._tlog_errors = 0

        # Writer-thread state (touched by the database writer only).
        self._track_buffer: list[TrackSample] = []
        self._track_since = math.inf
        self._held: deque[_Written] = deque()
        self._held_rows = 0
        self._next_held_retry = math.inf
        self._followups: deque[_Evidence] = deque()
        # Tlog-thread state.
        self._tlog_pending: dict[str, _PendingTlog] = {}
        self._tlog_pending_bytes = 0
        self._tlog_files: OrderedDict[str, TlogWriter] = OrderedDict()
        self._tlog_stamps: OrderedDict[str, TlogStamp] = OrderedDict()
        self._tlog_dirs_made: set[Path] = set()
        """Folders known to exist (one mkdir each, not one per file opened)."""

    # --- life cycle -------------------------------------------------------------

    def start(self) -> None:
        """Start the writer threads (once)."""
        with self._lock:
            if self._threads or self._closed:
                return
            self._threads = [
                threading.Thread(
                    target=self._run_db, name="skyberth-db-writer", daemon=True
                ),
                threading.Thread(
                    target=self._run_tlog, name="skyberth-tlog-writer", daemon=True
                ),
            ]
        for thread in self._threads:
            thread.start()

    def __enter__(self) -> TelemetryRecorder:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self, timeout_s: float = 30.0) -> bool:
        """Drain both queues, stop the threads; return True when nothing is left.

        Retries of a failing database stop at the timeout; what could not be
        written stays held in memory (``counters().held``) and is logged.
        """
        with self._lock:
            if self._closed:
                return self._held_rows == 0
            self._closed = True
            self._close_deadline = time.monotonic() + timeout_s
            started = bool(self._threads)
            self._db_queue.put(_Stop())
            self._tlog_queue.put(_Stop())
        if not started:
            # Never started: write what was queued here, in the caller's thread.
            self._run_db()
            self._run_tlog()
        for thread in self._threads:
            thread.join(max(0.0, self._close_deadline - time.monotonic()) + 5.0)
            if thread.is_alive():
                logger.error("%s did not stop within %.0f s", thread.name, timeout_s)
        if self._held_rows:
            logger.error(
                "recorder closed with %d row(s) not written (held in memory)",
                self._held_rows,
            )
        return self._held_rows == 0 and not any(t.is_alive() for t in self._threads)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything queued before this call is written (or held).

        Returns False on timeout. For tests and orderly hand-overs; the gateway
        never needs it.
        """
        barriers = [_Barrier(), _Barrier()]
        with self._lock:
            if self._closed or not self._threads:
                return False
            self._db_queue.put(barriers[0])
            self._tlog_queue.put(barriers[1])
        deadline = time.monotonic() + timeout_s
        return all(b.done.wait(max(0.0, deadline - time.monotonic())) for b in barriers)

    @property
    def max_open_tlogs(self) -> int:
        """How many tlog files the writer keeps open before closing the oldest."""
        return self._max_open_tlogs

    def counters(self) -> RecorderCounters:
        """Return a snapshot of the counters."""
        with self._lock:
            return RecorderCounters(
                queued=self._queued,
                written=self._written,
                retries=self._retries,
                failed=self._failed,
                dropped=self._dropped,
                held=self._held_rows,
                tlog_records=self._tlog_records,
                tlog_errors=self._tlog_errors,
            )

    # --- what the gateway calls -----------------------------------------------------

    def open_incident(
        self,
        new: NewIncident,
        evidence_before: Sequence[EvidenceSample],
        frames: Sequence[EvidenceFrame],
        on_done: IncidentDone,
        *,
        later_evidence: EvidenceBuilder | None = None,
    ) -> None:
        """Queue an incident (stored ahead of everything else) with its evidence.

        ``on_done(incident_id, created)`` runs in the writer thread once the
        incident is stored; hand it to your event loop with
        ``loop.call_soon_threadsafe``. ``created`` is False when the occurrence
        joined an open incident of its group. ``ValueError`` for bad frames.
        ``later_evidence`` builds more evidence in the writer thread, after
        ``on_done``: the caller copies what it needs and skips building thousands
        of objects on its own (busy) thread; what it returns is checked there and,
        if bad, logged and dropped.
        """
        if not isinstance(new, NewIncident):
            raise TypeError(f"open_incident needs a NewIncident, not {type(new)}")
        job = _OpenIncident(
            new,
            tuple(evidence_before),
            _check_frames(frames, f"incident {new.kind}"),
            on_done,
            later_evidence,
        )
        self._put_db(job, 1 + len(job.before) + len(job.frames))

    def add_evidence(
        self,
        incident_id: int,
        samples: Sequence[EvidenceSample],
        frames: Sequence[EvidenceFrame] = (),
        *,
        later_evidence: EvidenceBuilder | None = None,
    ) -> None:
        """Queue more evidence (the window after the incident opened);
        ``later_evidence`` as for ``open_incident``."""
        job = _Evidence(
            incident_id,
            tuple(samples),
            _check_frames(frames, f"incident {incident_id} evidence"),
            later_evidence,
        )
        if job.rows or job.later is not None:
            self._put_db(job, job.rows)

    def add_incident_event(
        self,
        incident_id: int,
        at_s: float,
        kind: str,
        details: Mapping[str, Any],
    ) -> None:
        """Queue a timeline event (a return, ...) at UTC epoch seconds ``at_s``."""
        if not math.isfinite(at_s) or not kind:
            raise ValueError(f"incident event {kind!r} at {at_s}: bad time or kind")
        at = datetime.fromtimestamp(at_s, UTC)
        self._put_db(_Event(incident_id, at, kind, dict(details)), 1)

    def record_track(self, samples: Sequence[TrackSample]) -> None:
        """Queue replay positions; they are written in batches."""
        if not samples:
            return
        rows = len(samples)
        with self._lock:
            pending = self._queued - self._written - self._dropped
            if not self._closed and pending + rows <= self._max_pending_rows:
                self._queued += rows
                self._db_queue.put(_Track(tuple(samples)))
                return
            self._dropped += rows
            closed = self._closed
        reason = "the recorder is closed" if closed else "too many rows are pending"
        self._log(
            logging.WARNING,
            "track-drop",
            "dropped %d replay position(s): %s",
            rows,
            reason,
        )

    def record_tlog(self, key: str, records: bytes | bytearray, count: int) -> None:
        """Append ``count`` encoded records to the recording ``<key>.tlog``.

        ``records`` is ``telemetry.mavlink.tlog.encode_record`` output, concatenated:
        per
        record 8 bytes of big-endian µs since the epoch, then one raw MAVLink
        frame. The writer thread appends the bytes as they are, so the caller
        owes whole records; only cheap checks run here. ``ValueError`` for an
        unsafe key (see ``check_tlog_key``), empty or non-bytes ``records``, a
        ``count`` below 1 or more than ``records`` can hold, or a first record
        with no MAVLink frame after its timestamp.
        """
        self._queue_records([(key, _checked_records(key, records, count), count)])

    def record_tlogs(self, batch: Sequence[tuple[str, bytes | bytearray, int]]) -> None:
        """``record_tlog`` for many recordings at once: one hand-off to the writer
        thread instead of one per recording (a gateway flushes a thousand vehicles
        a second). Checked as ``record_tlog``; nothing is queued if one is bad."""
        items = [(key, _checked_records(key, data, n), n) for key, data, n in batch]
        if items:
            self._queue_records(items)

    def record_frames(self, key: str, frames: Sequence[EvidenceFrame]) -> None:
        """Append raw frames ``(t_s, bytes)`` to the recording ``<key>.tlog``.

        ``ValueError`` for an unsafe key (see ``check_tlog_key``) or a bad frame.
        Encodes in the caller; ``record_tlog`` is cheaper for a caller that keeps
        records encoded already.
        """
        _checked_key(key)
        checked = _check_frames(frames, f"tlog {key}")
        if not checked:
            return
        records = b"".join(encode_record(t_s, raw) for t_s, raw in checked)
        self._queue_records([(key, records, len(checked))])

    def _queue_records(self, items: list[tuple[str, bytes, int]]) -> None:
        with self._lock:
            if not self._closed and self._tlog_dir is not None:
                self._tlog_queue.put(_Records(tuple(items)))
                return
            count = sum(n for _, _, n in items)
            self._dropped += count
        self._log(
            logging.WARNING,
            "tlog-drop",
            "dropped %d tlog frame(s) for %s: recorder closed or no tlog directory",
            count,
            ", ".join(sorted({key for key, _, _ in items})),
        )

    def purge(self, older_than_days: float, now: datetime | None = None) -> PurgeResult:
        """Delete replay positions and tlog files older than ``older_than_days``.

        Blocking (run it with ``asyncio.to_thread``). Incident evidence is kept.
        Tlog files go by their last modification time, removed by the tlog thread
        so a recording being written is never unlinked under its writer.
        """
        if not older_than_days >= 0:
            raise ValueError(
                f"retention must be a number of days >= 0, not {older_than_days}"
            )
        now = now or datetime.now(UTC)
        cutoff = now - timedelta(days=older_than_days)
        track_rows = self._tracks.purge_track_before(cutoff)
        result: Future[int] = Future()
        with self._lock:
            threaded = bool(self._threads) and not self._closed
            if threaded:
                self._tlog_queue.put(_PurgeTlogs(cutoff.timestamp(), result))
        if threaded:
            tlog_files = result.result(timeout=300)
        else:
            tlog_files = self._purge_tlogs(cutoff.timestamp())
        logger.info(
            "retention: deleted %d replay position(s) and %d tlog file(s) before %s",
            track_rows,
            tlog_files,
            cutoff.isoformat(),
        )
        return PurgeResult(track_rows, tlog_files)

    def _put_db(self, job: _DbJob, rows: int) -> None:
        with self._lock:
            if not self._closed:
                self._queued += rows
                self._db_queue.put(job)
                return
            self._dropped += rows
        logger.error(
            "recorder is closed: %s not recorded (%d row(s))", _name(job), rows
        )

    # --- database writer thread -----------------------------------------------------

    def _run_db(self) -> None:
        stopping = False
        while not stopping:
            jobs = self._take_db()
            opens: list[_OpenIncident] = []
            later: list[_Evidence | _Event] = []
            barriers: list[_Barrier] = []
            for job in jobs:
                if isinstance(job, _Track):
                    if not self._track_buffer:
                        self._track_since = time.monotonic()
                    self._track_buffer.extend(job.samples)
                elif isinstance(job, _OpenIncident):
                    opens.append(job)
                elif isinstance(job, _Evidence):
                    later.append(self._built(job))
                elif isinstance(job, _Event):
                    later.append(job)
                elif isinstance(job, _Barrier):
                    barriers.append(job)
                else:
                    stopping = True
            # Incidents first: viewers wait for them; evidence can wait a moment.
            for job in opens:
                self._write(job)
            self._write_followups()
            for job in later:
                self._write(job)
            now = time.monotonic()
            due = now - self._track_since >= self._flush_interval_s
            full = len(self._track_buffer) >= self._batch_rows
            if stopping or barriers or due or full:
                self._flush_track()
            if self._held and (stopping or now >= self._next_held_retry):
                self._retry_held()
            for barrier in barriers:
                barrier.done.set()

    def _take_db(self) -> list[_DbJob]:
        now = time.monotonic()
        deadlines = [self._next_held_retry]
        if self._track_buffer:
            deadlines.append(self._track_since + self._flush_interval_s)
        timeout = min(deadlines) - now
        try:
            first = self._db_queue.get(timeout=min(max(timeout, 0.0), 3600.0))
        except queue.Empty:
            return []
        jobs = [first]
        # Take what is already waiting, so a burst is handled as one batch.
        while len(jobs) < 10_000:
            try:
                jobs.append(self._db_queue.get_nowait())
            except queue.Empty:
                break
        return jobs

    def _flush_track(self) -> None:
        buffer, self._track_buffer = self._track_buffer, []
        self._track_since = math.inf
        for i in range(0, len(buffer), self._batch_rows):
            self._write(_Track(buffer[i : i + self._batch_rows]))

    def _write_followups(self) -> None:
        while self._followups:
            self._write(self._followups.popleft())

    def _write(self, job: _Written, *, held: bool = False) -> bool:
        """Write one job, retrying transient errors; hold it on failure."""
        delay_s = 0.05
        give_up_at = min(time.monotonic() + self._retry_budget_s, self._close_deadline)
        while True:
            try:
                opened = self._apply(job)
            except (IncidentNotFound, ValueError) as exc:
                # The data itself is wrong: no retry can store it. Say so, loudly.
                rows = job.rows
                if isinstance(job, _OpenIncident):
                    rows += len(job.before) + len(job.frames)  # its evidence too
                with self._lock:
                    self._failed += 1
                    self._dropped += rows
                logger.error("recorder: %s discarded: %s", _name(job), exc)
                return True
            except Exception as exc:
                now = time.monotonic()
                if held or not _is_transient(exc) or now + delay_s > give_up_at:
                    self._hold(job, exc, held)
                    return False
                with self._lock:
                    self._retries += 1
                self._log(
                    logging.WARNING,
                    f"retry-{type(exc).__name__}",
                    "recorder: %s; retrying (back-off %.2f s)",
                    _describe(exc),
                    delay_s,
                )
                time.sleep(delay_s)
                delay_s = min(delay_s * 2, 2.0)
                continue
            with self._lock:
                self._written += job.rows
            if opened is not None and isinstance(job, _OpenIncident):
                self._opened(job, *opened)
            return True

    def _apply(self, job: _Written) -> tuple[int, bool] | None:
        if isinstance(job, _OpenIncident):
            return self._incidents.open_incident(job.new)
        if isinstance(job, _Evidence):
            self._incidents.add_evidence(job.incident_id, job.samples, job.frames)
        elif isinstance(job, _Event):
            self._incidents.add_incident_event(
                job.incident_id, job.kind, job.at, dict(job.details)
            )
        else:
            self._tracks.append_track(job.samples)
        return None

    def _opened(self, job: _OpenIncident, incident_id: int, created: bool) -> None:
        try:
            job.on_done(incident_id, created)
        except Exception:
            logger.exception("on_done for incident %d raised", incident_id)
        evidence = self._built(
            _Evidence(incident_id, job.before, job.frames, job.later)
        )
        if evidence.rows:
            self._followups.append(evidence)

    def _built(self, job: _Evidence) -> _Evidence:
        """``job`` with the rows of its ``later`` builder added (writer thread)."""
        if job.later is None:
            return job
        try:
            samples, frames = job.later()
            checked = _check_frames(frames, f"incident {job.incident_id}")
        except Exception:
            logger.exception(
                "incident %d: its evidence could not be built", job.incident_id
            )
            return _Evidence(job.incident_id, job.samples, job.frames)
        with self._lock:
            self._queued += len(samples) + len(checked)
        return _Evidence(
            job.incident_id, (*job.samples, *samples), (*job.frames, *checked)
        )

    def _hold(self, job: _Written, exc: Exception, already_held: bool) -> None:
        with self._lock:
            self._failed += 1
            self._held_rows += job.rows
        if already_held:
            self._held.appendleft(job)
        else:
            self._held.append(job)
        self._next_held_retry = time.monotonic() + self._held_retry_s
        self._log(
            logging.ERROR,
            f"hold-{type(exc).__name__}",
            "recorder: could not write %s (%s); %d row(s) held for retry in %.0f s",
            _name(job),
            _describe(exc),
            self._held_rows,
            self._held_retry_s,
        )

    def _retry_held(self) -> None:
        while self._held:
            if time.monotonic() >= self._close_deadline:
                return
            job = self._held.popleft()
            with self._lock:
                self._held_rows -= job.rows
            if not self._write(job, held=True):
                return
            self._write_followups()
        self._next_held_retry = math.inf

    # --- tlog writer thread --------------------------------------------------------

    def _run_tlog(self) -> None:
        # Open files are written every tlog_flush_interval_s; a key with no open
        # file yet is opened within flush_interval_s, so a fleet that appears at
        # once opens its files then, not in a burst seconds into its flights.
        next_flush = next_open = math.inf
        stopping = False
        while not stopping:
            due_s = min(next_flush, next_open)
            timeout = min(max(due_s - time.monotonic(), 0.0), 3600.0)
            try:
                job: _TlogJob | None = self._tlog_queue.get(timeout=timeout)
            except queue.Empty:
                job = None
            now = time.monotonic()
            if isinstance(job, _Records):
                opening = False
                for key, records, count in job.items:
                    pending = self._tlog_pending.get(key)
                    if pending is None:
                        pending = self._tlog_pending[key] = _PendingTlog()
                        opening = opening or key not in self._tlog_files
                    pending.chunks.append(records)
                    pending.count += count
                    pending.size += len(records)
                    self._tlog_pending_bytes += len(records)
                if next_flush == math.inf:
                    next_flush = now + self._tlog_flush_interval_s
                if opening and next_open == math.inf:
                    next_open = now + self._flush_interval_s
            stopping = isinstance(job, _Stop)
            if stopping or isinstance(job, _PurgeTlogs | _Barrier) or now >= next_flush:
                self._flush_tlogs()
                next_flush = (
                    now + self._tlog_flush_interval_s
                    if self._tlog_pending
                    else math.inf
                )
                next_open = math.inf
            elif now >= next_open:
                self._flush_tlogs(unopened_only=True)
                next_open = math.inf
            if isinstance(job, _PurgeTlogs):
                try:
                    job.result.set_result(self._purge_tlogs(job.before_epoch_s))
                except Exception as exc:
                    job.result.set_exception(exc)
            elif isinstance(job, _Barrier):
                job.done.set()
        for key, writer in self._tlog_files.items():
            try:
                writer.close()
            except OSError as exc:
                logger.error("tlog %s: could not close: %s", key, exc)
        self._tlog_files.clear()
        if self._tlog_pending:
            lost = sum(p.count for p in self._tlog_pending.values())
            logger.error("tlog writer stopped with %d frame(s) not written", lost)
            with self._lock:
                self._dropped += lost

    def _flush_tlogs(self, *, unopened_only: bool = False) -> None:
        if self._tlog_dir is None:
            return
        written = 0
        for key in list(self._tlog_pending):
            if unopened_only and key in self._tlog_files:
                continue
            pending = self._tlog_pending[key]
            try:
                writer = self._tlog_writer(self._tlog_dir, key)
                writer.write_records(b"".join(pending.chunks))
                writer.flush()
            except OSError as exc:
                self._tlog_error(key, pending.count, exc)
                continue
            del self._tlog_pending[key]
            self._tlog_pending_bytes -= pending.size
            written += pending.count
        with self._lock:
            self._tlog_records += written

    def _tlog_error(self, key: str, count: int, exc: OSError) -> None:
        handle = self._tlog_files.pop(key, None)
        self._tlog_dirs_made.clear()  # a folder may be what went missing
        # The failed write may have left a torn record: the next open must scan.
        self._tlog_stamps.pop(key, None)
        if handle is not None:
            try:
                handle.close()
            except OSError:
                pass  # already failing; the error below says what happened
        kept = self._tlog_pending_bytes <= MAX_TLOG_PENDING_BYTES
        if not kept:
            self._tlog_pending_bytes -= self._tlog_pending.pop(key).size
        with self._lock:
            self._tlog_errors += 1
            self._dropped += 0 if kept else count
        self._log(
            logging.ERROR,
            f"tlog-{key}",
            "tlog %s: %s; %d frame(s) %s",
            key,
            exc,
            count,
            "kept for the next flush" if kept else "dropped (too much is pending)",
        )

    def _tlog_writer(self, directory: Path, key: str) -> TlogWriter:
        writer = self._tlog_files.get(key)
        if writer is not None:
            self._tlog_files.move_to_end(key)
            return writer
        path = directory / f"{key}{TLOG_SUFFIX}"
        if path.parent not in self._tlog_dirs_made:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._tlog_dirs_made.add(path.parent)
        stamp = self._tlog_stamps.pop(key, None)
        try:
            writer = TlogWriter(path, _TLOG_BUFFER_BYTES, whole_at=stamp)
        except TlogFormatError as exc:
            # Not a tlog (or damaged mid-file): keep its bytes, start a fresh one.
            aside = path.with_name(f"{path.name}.bad-{time.time_ns()}")
            path.rename(aside)
            logger.error("%s; moved aside to %s, recording anew", exc, aside.name)
            writer = TlogWriter(path, _TLOG_BUFFER_BYTES)
        self._tlog_files[key] = writer
        while len(self._tlog_files) > self._max_open_tlogs:
            self._evict_oldest_tlog()
        return writer

    def _evict_oldest_tlog(self) -> None:
        key, oldest = self._tlog_files.popitem(last=False)
        try:
            self._tlog_stamps[key] = oldest.close_stamped()
        except OSError as exc:
            # Everything was flushed after its write, so nothing is lost; without
            # a stamp the next open just scans the file for a torn record.
            logger.warning("tlog %s: could not close: %s", key, exc)
            return
        while len(self._tlog_stamps) > _MAX_TLOG_STAMPS:
            self._tlog_stamps.popitem(last=False)

    def _purge_tlogs(self, before_epoch_s: float) -> int:
        if self._tlog_dir is None or not self._tlog_dir.is_dir():
            return 0
        removed = 0
        for path in self._tlog_dir.rglob(f"*{TLOG_SUFFIX}"):
            try:
                if path.stat().st_mtime >= before_epoch_s:
                    continue
                key = path.relative_to(self._tlog_dir).as_posix()[: -len(TLOG_SUFFIX)]
                handle = self._tlog_files.pop(key, None)
                self._tlog_stamps.pop(key, None)
                if handle is not None:
                    handle.close()
                path.unlink()
                removed += 1
            except OSError as exc:
                logger.warning("retention: could not remove %s: %s", path, exc)
        return removed


def _name(job: object) -> str:
    incident = getattr(job, "incident_id", None)
    what = type(job).__name__.strip("_")
    return f"{what} of incident {incident}" if incident is not None else what


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300]
