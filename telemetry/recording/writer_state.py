"""What the recorder and its two writer threads share: counters, closing, control jobs.

``TelemetryRecorder`` (the facade the gateway calls) queues work for the database
writer (``db_writer``) and the tlog writer (``tlog_writer``). All three count into
one ``RecorderState`` under one lock, so ``counters()`` is one consistent snapshot
and a job is never queued after ``close`` put the final ``Stop`` on its queue.
``Barrier`` and ``Stop`` are the two control jobs both queues take.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field


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
    tlog_queue_dropped: int = 0
    """Frames dropped because the tlog writer's queue held its byte cap (the disk
    is slower than the links); counted in ``dropped`` too."""
    tlog_budget_dropped: int = 0
    """Frames not recorded because the tlog directory reached its disk budget;
    counted in ``dropped`` too."""
    track_dropped: int = 0
    """Replay positions refused: over ``max_pending_rows``, or while incidents,
    evidence and events fill their bound; counted in ``dropped`` too."""
    must_keep_pending: int = 0
    """Incidents, evidence and timeline events queued or held, not yet written
    (a current amount; bounded softly by ``max_must_keep_jobs``)."""
    must_keep_waits: int = 0
    """Times a caller waited (briefly) for room under ``max_must_keep_jobs``."""
    must_keep_over_bound: int = 0
    """Incidents, evidence and events queued past ``max_must_keep_jobs`` (never
    dropped; each episode is logged at ERROR)."""


@dataclass(frozen=True)
class Barrier:
    """Set ``done`` once every job queued before it was handled."""

    done: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Stop:
    """The last job of a queue: drain, then end the thread."""


class RecorderState:
    """The counters, the closed flag and the close deadline, guarded by ``lock``.

    Read or change any attribute only while holding ``lock``; ``close_deadline``
    (monotonic seconds) is set once by ``close`` and only read after.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.closed = False
        self.close_deadline = math.inf
        self.queued = self.written = self.retries = self.failed = 0
        self.dropped = self.held_rows = self.tlog_records = self.tlog_errors = 0
        self.tlog_queued_bytes = 0
        """Record bytes on the tlog writer's queue (bounded by the facade)."""
        self.tlog_queue_dropped = self.tlog_budget_dropped = 0
        self.track_dropped = 0
        self.must_keep_pending = self.must_keep_waits = self.must_keep_over_bound = 0
        self.must_keep_bound = 1000
        """Set by the recorder (``max_must_keep_jobs``)."""
        self.must_keep_overflowing = False
        """Past the bound since the last time it had room: callers stop waiting."""
        self.room = threading.Condition(self.lock)
        """Notified when a must-keep job is written (room under the bound)."""

    def snapshot(self) -> RecorderCounters:
        """Return the counters as they are now."""
        with self.lock:
            return RecorderCounters(
                queued=self.queued,
                written=self.written,
                retries=self.retries,
                failed=self.failed,
                dropped=self.dropped,
                held=self.held_rows,
                tlog_records=self.tlog_records,
                tlog_errors=self.tlog_errors,
                tlog_queue_dropped=self.tlog_queue_dropped,
                tlog_budget_dropped=self.tlog_budget_dropped,
                track_dropped=self.track_dropped,
                must_keep_pending=self.must_keep_pending,
                must_keep_waits=self.must_keep_waits,
                must_keep_over_bound=self.must_keep_over_bound,
            )

    def must_keep_done(self) -> None:
        """One must-keep job left memory (written or discarded); hold ``lock``."""
        self.must_keep_pending -= 1
        if self.must_keep_pending < self.must_keep_bound:
            self.must_keep_overflowing = False
        self.room.notify_all()
