"""The recorder's database writer: one thread that stores incidents, evidence, tracks.

It inserts incidents at once (an incident reaches viewers only after it is stored,
so latency matters), then their evidence and timeline events, and batches replay
positions (one transaction per ``batch_rows`` rows or per ``flush_interval_s``,
whichever comes first).

Failures. Transient database errors (``OperationalError`` such as "database is
locked", a reset connection, a pool timeout) are retried with jittered exponential
back-off (``telemetry.retry_policy``) for up to ``retry_budget_s``; a job that still
fails, or fails for another reason, is logged and *held* in memory, retried every
``held_retry_s`` (a fixed period: the database is away, not contended) and at
``close``. Data the database can never take (an event for an incident that does not
exist) is counted as dropped and logged.
"""

from __future__ import annotations

import logging
import math
import queue
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
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
from telemetry.log_limits import RateLimitedLog
from telemetry.recording.track_store import TrackStore
from telemetry.recording.writer_state import Barrier, RecorderState, Stop
from telemetry.retry_policy import jittered_waits

logger = logging.getLogger(__name__)

IncidentDone = Callable[[int, bool], None]
"""Called from the writer thread with ``(incident id, created)`` once stored."""

_FIRST_RETRY_S = 0.05
_MAX_RETRY_S = 2.0


def check_frames(frames: Sequence[EvidenceFrame], what: str) -> list[EvidenceFrame]:
    """Return ``frames`` as ``(float, bytes)`` pairs; ``ValueError`` names a bad one."""
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


# --- jobs ------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenIncident:
    """Store an incident, then build its evidence with ``later``."""

    new: NewIncident
    on_done: IncidentDone
    later: EvidenceBuilder | None = None
    rows: int = 1
    """The incident itself; its evidence is written (and counted) as a follow-up."""


@dataclass(frozen=True)
class Evidence:
    """Store evidence rows of an incident (``later`` builds them in this thread)."""

    incident_id: int
    samples: Sequence[EvidenceSample] = ()
    frames: Sequence[EvidenceFrame] = ()
    later: EvidenceBuilder | None = None
    followup: bool = False
    """Made by the writer after its incident was stored (not counted under the
    must-keep bound: one per incident, which was)."""

    @property
    def rows(self) -> int:
        return len(self.samples) + len(self.frames)


@dataclass(frozen=True)
class Event:
    """Append a timeline event to an incident."""

    incident_id: int
    at: datetime
    kind: str
    details: Mapping[str, Any]
    rows: int = 1


@dataclass(frozen=True)
class Track:
    """Append replay positions (batched by the writer)."""

    samples: Sequence[TrackSample]

    @property
    def rows(self) -> int:
        return len(self.samples)


DbJob = OpenIncident | Evidence | Event | Track | Barrier | Stop
_Written = OpenIncident | Evidence | Event | Track


def is_must_keep(job: object) -> bool:
    """Whether ``job`` counts under the must-keep bound: an incident, evidence or
    a timeline event the gateway queued (never dropped; see ``recorder``)."""
    if isinstance(job, Evidence):
        return not job.followup
    return isinstance(job, OpenIncident | Event)


def job_name(job: object) -> str:
    """Say what ``job`` is, for a log line (``Evidence of incident 7``)."""
    incident = getattr(job, "incident_id", None)
    what = type(job).__name__
    return f"{what} of incident {incident}" if incident is not None else what


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300]


# --- the writer --------------------------------------------------------------------


class DatabaseWriter:
    """Takes ``DbJob``s from ``queue`` and writes them; ``run`` is the thread's body.

    The caller puts jobs on ``queue`` (under ``state.lock``, counting their rows in
    ``state.queued``) and a ``Stop`` last; ``run`` returns once it handled the Stop.
    Everything but ``queue`` is touched by the writer thread only.
    """

    def __init__(
        self,
        incidents: IncidentRepository,
        tracks: TrackStore,
        state: RecorderState,
        *,
        flush_interval_s: float,
        batch_rows: int,
        retry_budget_s: float,
        held_retry_s: float,
    ) -> None:
        self._incidents = incidents
        self._tracks = tracks
        self._state = state
        self._flush_interval_s = flush_interval_s
        self._batch_rows = batch_rows
        self._retry_budget_s = retry_budget_s
        self._held_retry_s = held_retry_s
        self.queue: queue.SimpleQueue[DbJob] = queue.SimpleQueue()
        self._log = RateLimitedLog(logger)
        self._track_buffer: list[TrackSample] = []
        self._track_since = math.inf
        self._held: deque[_Written] = deque()
        self._next_held_retry = math.inf
        self._followups: deque[Evidence] = deque()

    def run(self) -> None:
        """Write jobs until a ``Stop`` was handled (the writer thread's body)."""
        stopping = False
        while not stopping:
            jobs = self._take()
            opens: list[OpenIncident] = []
            later: list[Evidence | Event] = []
            barriers: list[Barrier] = []
            for job in jobs:
                if isinstance(job, Track):
                    if not self._track_buffer:
                        self._track_since = time.monotonic()
                    self._track_buffer.extend(job.samples)
                elif isinstance(job, OpenIncident):
                    opens.append(job)
                elif isinstance(job, Evidence):
                    later.append(self._built(job))
                elif isinstance(job, Event):
                    later.append(job)
                elif isinstance(job, Barrier):
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

    def _take(self) -> list[DbJob]:
        now = time.monotonic()
        deadlines = [self._next_held_retry]
        if self._track_buffer:
            deadlines.append(self._track_since + self._flush_interval_s)
        timeout = min(deadlines) - now
        try:
            first = self.queue.get(timeout=min(max(timeout, 0.0), 3600.0))
        except queue.Empty:
            return []
        jobs = [first]
        # Take what is already waiting, so a burst is handled as one batch.
        while len(jobs) < 10_000:
            try:
                jobs.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return jobs

    def _flush_track(self) -> None:
        buffer, self._track_buffer = self._track_buffer, []
        self._track_since = math.inf
        for i in range(0, len(buffer), self._batch_rows):
            self._write(Track(buffer[i : i + self._batch_rows]))

    def _write_followups(self) -> None:
        while self._followups:
            self._write(self._followups.popleft())

    def _write(self, job: _Written, *, held: bool = False) -> bool:
        """Write one job, retrying transient errors; hold it on failure."""
        state = self._state
        waits = jittered_waits(_FIRST_RETRY_S, _MAX_RETRY_S)
        delay_s = next(waits)
        give_up_at = min(time.monotonic() + self._retry_budget_s, state.close_deadline)
        while True:
            try:
                opened = self._apply(job)
            except (IncidentNotFound, ValueError) as exc:
                # The data itself is wrong: no retry can store it. Say so, loudly.
                with state.lock:
                    state.failed += 1
                    state.dropped += job.rows
                    if is_must_keep(job):
                        state.must_keep_done()
                logger.error("recorder: %s discarded: %s", job_name(job), exc)
                return True
            except Exception as exc:
                now = time.monotonic()
                if held or not _is_transient(exc) or now + delay_s > give_up_at:
                    self._hold(job, exc, held)
                    return False
                with state.lock:
                    state.retries += 1
                self._log(
                    logging.WARNING,
                    f"retry-{type(exc).__name__}",
                    "recorder: %s; retrying (back-off %.2f s)",
                    _describe(exc),
                    delay_s,
                )
                time.sleep(delay_s)
                delay_s = next(waits)
                continue
            with state.lock:
                state.written += job.rows
                if is_must_keep(job):
                    state.must_keep_done()
            if opened is not None and isinstance(job, OpenIncident):
                self._opened(job, *opened)
            return True

    def _apply(self, job: _Written) -> tuple[int, bool] | None:
        if isinstance(job, OpenIncident):
            return self._incidents.open_incident(job.new)
        if isinstance(job, Evidence):
            self._incidents.add_evidence(job.incident_id, job.samples, job.frames)
        elif isinstance(job, Event):
            self._incidents.add_incident_event(
                job.incident_id, job.kind, job.at, dict(job.details)
            )
        else:
            self._tracks.append_track(job.samples)
        return None

    def _opened(self, job: OpenIncident, incident_id: int, created: bool) -> None:
        try:
            job.on_done(incident_id, created)
        except Exception:
            logger.exception("on_done for incident %d raised", incident_id)
        evidence = self._built(Evidence(incident_id, later=job.later, followup=True))
        if evidence.rows:
            self._followups.append(evidence)

    def _built(self, job: Evidence) -> Evidence:
        """``job`` with the rows of its ``later`` builder added (writer thread)."""
        if job.later is None:
            return job
        try:
            samples, frames = job.later()
            checked = check_frames(frames, f"incident {job.incident_id}")
        except Exception:
            logger.exception(
                "incident %d: its evidence could not be built", job.incident_id
            )
            return Evidence(
                job.incident_id, job.samples, job.frames, followup=job.followup
            )
        with self._state.lock:
            self._state.queued += len(samples) + len(checked)
        return Evidence(
            job.incident_id,
            (*job.samples, *samples),
            (*job.frames, *checked),
            followup=job.followup,
        )

    def _hold(self, job: _Written, exc: Exception, already_held: bool) -> None:
        with self._state.lock:
            self._state.failed += 1
            self._state.held_rows += job.rows
            held_rows = self._state.held_rows
        if already_held:
            self._held.appendleft(job)
        else:
            self._held.append(job)
        self._next_held_retry = time.monotonic() + self._held_retry_s
        self._log(
            logging.ERROR,
            f"hold-{type(exc).__name__}",
            "recorder: could not write %s (%s); %d row(s) held for retry in %.0f s",
            job_name(job),
            _describe(exc),
            held_rows,
            self._held_retry_s,
        )

    def _retry_held(self) -> None:
        while self._held:
            if time.monotonic() >= self._state.close_deadline:
                return
            job = self._held.popleft()
            with self._state.lock:
                self._state.held_rows -= job.rows
            if not self._write(job, held=True):
                return
            self._write_followups()
        self._next_held_retry = math.inf
