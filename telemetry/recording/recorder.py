"""The telemetry recorder: every write the gateway makes, off the event loop.

The gateway calls these methods from its event loop; each only checks its input and
puts a job on a queue, so the loop never waits on the database or the disk. Two
daemon threads do the work: the database writer (``db_writer``: incidents first,
then evidence and timeline events, replay positions in batches) and the tlog writer
(``tlog_writer``: raw MAVLink records appended to ``<tlog_dir>/<key>.tlog``).

Nothing is dropped silently, and incidents are never dropped. Every kind of job
is bounded, each with its own policy:

- replay positions: at most ``max_pending_rows`` rows not yet written (the
  database has been away too long); past it, and while the must-keep jobs below
  are at their bound, the newest are refused (``track_dropped``, logged);
- raw frames: at most ``max_queued_tlog_bytes`` on the tlog queue (the disk is
  slower than the links), the newest refused (``tlog_queue_dropped``); none
  recorded once the tlog directory holds ``tlog_budget_bytes`` (logged once);
- incidents, their evidence and timeline events (*must-keep*): at most
  ``max_must_keep_jobs`` queued or held. At the bound the caller waits up to
  ``must_keep_wait_s`` for the writer to make room (once per overflow: the event
  loop is not stalled again while it lasts); if none comes the job is queued
  anyway, never dropped, counted (``must_keep_over_bound``) and the overflow
  logged at ERROR. What keeps them few is upstream (the gateway's incident
  quotas); this bound says loudly when the database cannot keep up.

The other drops are calls after ``close``,
data the database can never take (an event for an incident that does not exist),
and raw frames the tlog directory still refuses at ``close``; each is counted in
``counters().dropped`` and logged. A job the database refuses for now is held in
memory and retried (see ``db_writer``).

``close`` drains both queues and returns once everything queued was written (or
what could not be written is held and logged).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from telemetry.incidents.model import (
    EvidenceBuilder,
    EvidenceFrame,
    NewIncident,
    TrackSample,
)
from telemetry.incidents.repository import IncidentRepository
from telemetry.log_limits import RateLimitedLog
from telemetry.mavlink.tlog import encode_record
from telemetry.recording.db_writer import (
    DatabaseWriter,
    DbJob,
    Event,
    Evidence,
    IncidentDone,
    OpenIncident,
    Track,
    check_frames,
    job_name,
)
from telemetry.recording.tlog_writer import (
    MAX_OPEN_TLOGS,
    TLOG_SUFFIX,
    PurgeTlogs,
    Records,
    TlogFileWriter,
    check_tlog_key,
    checked_key,
    checked_records,
    default_max_open_tlogs,
)
from telemetry.recording.track_store import TrackStore
from telemetry.recording.writer_state import (
    Barrier,
    RecorderCounters,
    RecorderState,
    Stop,
)

__all__ = [
    "MAX_OPEN_TLOGS",
    "TLOG_SUFFIX",
    "IncidentDone",
    "PurgeResult",
    "RecorderCounters",
    "TelemetryRecorder",
    "check_tlog_key",
    "default_max_open_tlogs",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PurgeResult:
    """What a retention sweep deleted."""

    track_rows: int
    tlog_files: int


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
        max_queued_tlog_bytes: int = 32 * 1024 * 1024,
        tlog_budget_bytes: int | None = None,
        max_must_keep_jobs: int = 1000,
        must_keep_wait_s: float = 0.25,
    ) -> None:
        if (
            flush_interval_s <= 0
            or tlog_flush_interval_s <= 0
            or batch_rows < 1
            or max_pending_rows < batch_rows
            or max_must_keep_jobs < 1
            or must_keep_wait_s < 0
        ):
            raise ValueError(
                "flush intervals must be positive, batch_rows at least 1 and "
                "max_pending_rows at least batch_rows, max_must_keep_jobs at "
                "least 1 and must_keep_wait_s not negative"
            )
        self._tracks = tracks
        self._tlog_dir = tlog_dir
        self._max_pending_rows = max_pending_rows
        self._max_queued_tlog_bytes = max_queued_tlog_bytes
        self._state = RecorderState()
        self._state.must_keep_bound = max_must_keep_jobs
        self._must_keep_wait_s = must_keep_wait_s
        self._db = DatabaseWriter(
            incidents,
            tracks,
            self._state,
            flush_interval_s=flush_interval_s,
            batch_rows=batch_rows,
            retry_budget_s=retry_budget_s,
            held_retry_s=held_retry_s,
        )
        self._tlog = TlogFileWriter(
            tlog_dir,
            self._state,
            flush_interval_s=flush_interval_s,
            tlog_flush_interval_s=tlog_flush_interval_s,
            max_open_tlogs=max(
                1,
                default_max_open_tlogs() if max_open_tlogs is None else max_open_tlogs,
            ),
            budget_bytes=tlog_budget_bytes,
        )
        self._threads: list[threading.Thread] = []
        self._log = RateLimitedLog(logger)

    # --- life cycle -------------------------------------------------------------

    def start(self) -> None:
        """Start the writer threads (once)."""
        with self._state.lock:
            if self._threads or self._state.closed:
                return
            self._threads = [
                threading.Thread(
                    target=self._db.run, name="skyberth-db-writer", daemon=True
                ),
                threading.Thread(
                    target=self._tlog.run, name="skyberth-tlog-writer", daemon=True
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
        state = self._state
        with state.lock:
            if state.closed:
                return state.held_rows == 0
            state.closed = True
            state.close_deadline = time.monotonic() + timeout_s
            started = bool(self._threads)
            self._db.queue.put(Stop())
            self._tlog.queue.put(Stop())
            state.room.notify_all()  # a caller waiting for room stops waiting
        if not started:
            # Never started: write what was queued here, in the caller's thread.
            self._db.run()
            self._tlog.run()
        for thread in self._threads:
            thread.join(max(0.0, state.close_deadline - time.monotonic()) + 5.0)
            if thread.is_alive():
                logger.error("%s did not stop within %.0f s", thread.name, timeout_s)
        held_rows = self.counters().held
        if held_rows:
            logger.error(
                "recorder closed with %d row(s) not written (held in memory)",
                held_rows,
            )
        return held_rows == 0 and not any(t.is_alive() for t in self._threads)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything queued before this call is written (or held).

        Returns False on timeout. For tests and orderly hand-overs; the gateway
        never needs it.
        """
        barriers = [Barrier(), Barrier()]
        with self._state.lock:
            if self._state.closed or not self._threads:
                return False
            self._db.queue.put(barriers[0])
            self._tlog.queue.put(barriers[1])
        deadline = time.monotonic() + timeout_s
        return all(b.done.wait(max(0.0, deadline - time.monotonic())) for b in barriers)

    @property
    def max_open_tlogs(self) -> int:
        """How many tlog files the writer keeps open before closing the oldest."""
        return self._tlog.max_open_tlogs

    def counters(self) -> RecorderCounters:
        """Return a snapshot of the counters."""
        return self._state.snapshot()

    # --- what the gateway calls -----------------------------------------------------

    def open_incident(
        self,
        new: NewIncident,
        on_done: IncidentDone,
        *,
        later_evidence: EvidenceBuilder | None = None,
    ) -> None:
        """Queue an incident (stored ahead of everything else) with its evidence.

        ``on_done(incident_id, created)`` runs in the writer thread once the
        incident is stored; hand it to your event loop with
        ``loop.call_soon_threadsafe``. ``created`` is False when the occurrence
        joined an open incident of its group. ``later_evidence`` builds the
        evidence in the writer thread, after ``on_done``: the caller copies what it
        needs and skips building thousands of objects on its own (busy) thread;
        what it returns is checked there and, if bad, logged and dropped.
        """
        if not isinstance(new, NewIncident):
            raise TypeError(f"open_incident needs a NewIncident, not {type(new)}")
        self._put_db(OpenIncident(new, on_done, later_evidence), 1)

    def add_evidence(self, incident_id: int, later_evidence: EvidenceBuilder) -> None:
        """Queue more evidence (the window after the incident opened), built in the
        writer thread by ``later_evidence`` as for ``open_incident``."""
        self._put_db(Evidence(incident_id, later=later_evidence), 0)

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
        self._put_db(Event(incident_id, at, kind, dict(details)), 1)

    def record_track(self, samples: Sequence[TrackSample]) -> None:
        """Queue replay positions; they are written in batches."""
        if not samples:
            return
        rows = len(samples)
        state = self._state
        with state.lock:
            pending = state.queued - state.written - state.dropped
            crowded = state.must_keep_pending >= state.must_keep_bound
            if (
                not state.closed
                and not crowded
                and pending + rows <= self._max_pending_rows
            ):
                state.queued += rows
                self._db.queue.put(Track(tuple(samples)))
                return
            state.dropped += rows
            state.track_dropped += rows
            closed = state.closed
        if closed:
            reason = "the recorder is closed"
        elif crowded:
            reason = "incidents, evidence and events fill their bound"
        else:
            reason = "too many rows are pending"
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
        per record 8 bytes of big-endian µs since the epoch, then one raw MAVLink
        frame. The writer thread appends the bytes as they are, so the caller
        owes whole records; only cheap checks run here. ``ValueError`` for an
        unsafe key (see ``check_tlog_key``), empty or non-bytes ``records``, a
        ``count`` below 1 or more than ``records`` can hold, or a first record
        with no MAVLink frame after its timestamp.
        """
        self._queue_records([(key, checked_records(key, records, count), count)])

    def record_tlogs(self, batch: Sequence[tuple[str, bytes | bytearray, int]]) -> None:
        """``record_tlog`` for many recordings at once: one hand-off to the writer
        thread instead of one per recording (a gateway flushes a thousand vehicles
        a second). Checked as ``record_tlog``; nothing is queued if one is bad."""
        items = [(key, checked_records(key, data, n), n) for key, data, n in batch]
        if items:
            self._queue_records(items)

    def record_frames(self, key: str, frames: Sequence[EvidenceFrame]) -> None:
        """Append raw frames ``(t_s, bytes)`` to the recording ``<key>.tlog``.

        ``ValueError`` for an unsafe key (see ``check_tlog_key``) or a bad frame.
        Encodes in the caller; ``record_tlog`` is cheaper for a caller that keeps
        records encoded already.
        """
        checked_key(key)
        checked = check_frames(frames, f"tlog {key}")
        if not checked:
            return
        records = b"".join(encode_record(t_s, raw) for t_s, raw in checked)
        self._queue_records([(key, records, len(checked))])

    def _queue_records(self, items: list[tuple[str, bytes, int]]) -> None:
        size = sum(len(records) for _, records, _ in items)
        count = sum(n for _, _, n in items)
        state = self._state
        with state.lock:
            open_ = not state.closed and self._tlog_dir is not None
            behind = state.tlog_queued_bytes
            fits = behind + size <= self._max_queued_tlog_bytes
            if open_ and fits:
                state.tlog_queued_bytes += size
                self._tlog.queue.put(Records(tuple(items), size))
                return
            state.dropped += count
            if open_:
                state.tlog_queue_dropped += count
        if open_:
            self._log(
                logging.WARNING,
                "tlog-queue-full",
                "dropped %d tlog frame(s): the tlog writer is %d bytes behind "
                "(cap %d; the disk is slower than the links)",
                count,
                behind,
                self._max_queued_tlog_bytes,
            )
            return
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
        with self._state.lock:
            threaded = bool(self._threads) and not self._state.closed
            if threaded:
                self._tlog.queue.put(PurgeTlogs(cutoff.timestamp(), result))
        if threaded:
            tlog_files = result.result(timeout=300)
        else:
            tlog_files = self._tlog.purge(cutoff.timestamp())
        logger.info(
            "retention: deleted %d replay position(s) and %d tlog file(s) before %s",
            track_rows,
            tlog_files,
            cutoff.isoformat(),
        )
        return PurgeResult(track_rows, tlog_files)

    def _put_db(self, job: DbJob, rows: int) -> None:
        """Queue a must-keep job (an incident, evidence, an event): never dropped
        while open; at the bound, wait briefly for room, then queue it anyway and
        say so (module docstring)."""
        state = self._state
        over = 0
        with state.lock:
            if state.must_keep_pending >= state.must_keep_bound and not state.closed:
                if not state.must_keep_overflowing:
                    state.must_keep_waits += 1
                    state.room.wait_for(
                        lambda: (
                            state.must_keep_pending < state.must_keep_bound
                            or state.closed
                        ),
                        timeout=self._must_keep_wait_s,
                    )
                if state.must_keep_pending >= state.must_keep_bound:
                    state.must_keep_overflowing = True
                    state.must_keep_over_bound += 1
                    over = state.must_keep_pending
            if not state.closed:
                state.queued += rows
                state.must_keep_pending += 1
                self._db.queue.put(job)
                closed = False
            else:
                state.dropped += rows
                closed = True
        if over:
            self._log(
                logging.ERROR,
                "must-keep-over-bound",
                "recorder: %d incidents, evidence and events wait for the database "
                "(bound %d); %s queued past the bound, not dropped: the database "
                "is not keeping up and memory grows",
                over,
                state.must_keep_bound,
                job_name(job),
            )
        if closed:
            logger.error(
                "recorder is closed: %s not recorded (%d row(s))", job_name(job), rows
            )
