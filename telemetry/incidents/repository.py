"""The incident repository: incidents, their timeline and their evidence.

The tables are in ``telemetry.incidents.tables``; the replay tracks have their own
store (``telemetry.recording.track_store``). Workflow changes (acknowledge, close,
...) are not written here but by the incident service
(``telemetry.incidents.service``), which decides them first.

Concurrency. Writes run in the write session the caller's ``session_factory``
opens: on SQLite that is ``BEGIN IMMEDIATE`` (``web.db.write_session``), which
serialises every writer; on PostgreSQL ``open_incident`` takes a transaction-scoped
advisory lock on the incident's group and locks the joined row, so two writers never
open two incidents for one group, and the unique ``idempotency_key`` is the second
line of defence.

Grouping. An incident of one kind for one drone (or, unregistered, one vehicle key)
under one booking (or none) that is not closed absorbs new occurrences: its
``occurrences`` goes up, its severity rises to the worst seen, and an ``occurrence``
event records the new message and figures.

Idempotency. ``open_incident`` replays the first call's answer for a key it has seen:
the key of the request that opened an incident is on the incident, the key of one
that joined is on its occurrence event.

Evidence is append-only in time: positions or frames no newer than what the
incident already holds are skipped, so the overlapping windows of two occurrences
(or a retried write) are stored once.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, Final, TypeAlias, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from airspace.utc import as_utc
from booking.audit_log import SqlAudit
from telemetry.bulk_insert import insert_rows
from telemetry.incidents.evidence_digest import evidence_digest
from telemetry.incidents.model import (
    Evidence,
    EvidenceFrame,
    EvidenceSample,
    Incident,
    IncidentEvent,
    IncidentId,
    IncidentKind,
    IncidentNotFound,
    IncidentState,
    NewIncident,
    Severity,
    require_utc,
    to_json,
)
from telemetry.incidents.tables import (
    IncidentEventRow,
    IncidentFrameRow,
    IncidentRow,
    IncidentSampleRow,
    event_from_row,
    incident_from_row,
    sample_from_row,
)

SessionFactory: TypeAlias = Callable[[], AbstractContextManager[Session]]
T = TypeVar("T")

MAX_LIST_LIMIT = 1000
OPENED = "opened"
OCCURRENCE = "occurrence"


# Evidence goes in as plain multi-row inserts (``bulk_insert``), not
# through the ORM: its bulk machinery runs per row, and the writer thread must not
# step the database once per row (see that module).
_SAMPLE_FIELDS: Final = tuple(f.name for f in fields(EvidenceSample))
_SAMPLE_COLUMNS: Final = ("incident_id", *_SAMPLE_FIELDS)
"""The ``incident_samples`` columns: an ``EvidenceSample``'s fields, same names."""
_FRAME_COLUMNS: Final = ("incident_id", "t_s", "raw")


def _sample_values(incident_id: int, s: EvidenceSample) -> tuple[Any, ...]:
    """``s`` as a tuple in ``_SAMPLE_COLUMNS`` order (the phase as plain text)."""
    values = _sample_getter(s)
    return (incident_id, *values[:-1], str(values[-1]))


_sample_getter = operator.attrgetter(*_SAMPLE_FIELDS)


def _group_lock_name(new: NewIncident) -> str:
    who = f"drone:{new.drone_id}" if new.drone_id else f"vehicle:{new.vehicle_key}"
    return f"skyberth.incident.{new.site_id}.{new.kind}.{who}.{new.booking_id}"


# --- the repository -------------------------------------------------------------


class IncidentRepository:
    """Incidents, their timeline events and evidence in the database.

    ``session_factory`` opens write transactions (on SQLite it must begin with
    ``BEGIN IMMEDIATE``: ``web.db.write_session``); ``read_session_factory``, when
    given, opens plain read sessions so readers do not queue for the write lock.
    Every method is synchronous and blocking: call it from a worker thread
    (``TelemetryRecorder``, ``asyncio.to_thread`` or a sync route), never the loop.
    """

    def __init__(
        self,
        session_factory: SessionFactory,
        read_session_factory: SessionFactory | None = None,
    ) -> None:
        self._write = session_factory
        self._read = read_session_factory or session_factory

    # --- incidents --------------------------------------------------------------

    def open_incident(self, new: NewIncident) -> tuple[IncidentId, bool]:
        """Open an incident, or join the open one of its group.

        Returns ``(incident id, created)``: ``created`` is False when the occurrence
        joined an incident that is not closed. A call repeating an earlier call's
        ``idempotency_key`` changes nothing and returns that call's answer.
        """
        try:
            with self._write() as session:
                return self._open_in(session, new)
        except IntegrityError:
            # A concurrent writer stored the same key first; answer as it did.
            with self._read() as session:
                replay = _replay(session, new.idempotency_key)
            if replay is None:
                raise
            return replay

    def _open_in(self, s: Session, new: NewIncident) -> tuple[IncidentId, bool]:
        if s.get_bind().dialect.name == "postgresql":
            s.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"),
                {"name": _group_lock_name(new)},
            )
        replay = _replay(s, new.idempotency_key)
        if replay is not None:
            return replay
        row = s.exec(_group_query(new).with_for_update()).first()
        if row is not None and row.id is not None:
            _join(s, row, new)
            return IncidentId(row.id), False
        row = IncidentRow(
            site_id=new.site_id,
            kind=str(new.kind),
            severity=str(new.severity),
            state=str(IncidentState.OPEN),
            opened_at=new.at,
            updated_at=new.at,
            vehicle_key=new.vehicle_key,
            sysid=new.sysid,
            drone_id=new.drone_id,
            operator_id=new.operator_id,
            booking_id=new.booking_id,
            corridor_id=new.corridor_id,
            message=new.message,
            rule_json=to_json(new.rule, "rule"),
            volume_json=to_json(new.volume.as_dict(), "volume") if new.volume else None,
            link_json=to_json(new.link, "link"),
            last_occurrence_at=new.at,
            idempotency_key=new.idempotency_key,
        )
        s.add(row)
        s.flush()
        if row.id is None:
            raise RuntimeError("the database assigned no incident id")
        s.add(
            IncidentEventRow(
                incident_id=row.id,
                at=new.at,
                kind=OPENED,
                details_json=to_json(
                    {"message": new.message, "severity": str(new.severity)}, "event"
                ),
            )
        )
        # Opening is audited in the same transaction (keyed, see booking.audit_log).
        SqlAudit(s).append_system(
            new.at,
            "incident.opened",
            "incident",
            str(row.id),
            {"kind": str(new.kind), "severity": str(new.severity), "site": new.site_id},
            new.message,
        )
        return IncidentId(row.id), True

    def get_incident(self, incident_id: int) -> Incident | None:
        """Return the incident, or None when there is none with that id."""
        with self._read() as s:
            row = s.get(IncidentRow, incident_id)
            return incident_from_row(row) if row else None

    def list_incidents(
        self,
        *,
        state: IncidentState | None = None,
        kind: IncidentKind | None = None,
        site_id: str | None = None,
        drone_id: str | None = None,
        operator_id: str | None = None,
        booking_id: int | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Incident]:
        """Return matching incidents, newest opened first.

        ``start``/``end`` (aware UTC) keep the incidents active in ``[start, end)``:
        opened before ``end`` with an occurrence at or after ``start``.
        ``limit`` is 1..1000; ``ValueError`` names a bad argument.
        """
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIST_LIMIT}, not {limit}")
        if offset < 0:
            raise ValueError(f"offset must not be negative, not {offset}")
        query = select(IncidentRow)
        if state is not None:
            query = query.where(IncidentRow.state == str(IncidentState(state)))
        if kind is not None:
            query = query.where(IncidentRow.kind == str(IncidentKind(kind)))
        if site_id is not None:
            query = query.where(IncidentRow.site_id == site_id)
        if drone_id is not None:
            query = query.where(IncidentRow.drone_id == drone_id)
        if operator_id is not None:
            query = query.where(IncidentRow.operator_id == operator_id)
        if booking_id is not None:
            query = query.where(IncidentRow.booking_id == booking_id)
        if start is not None:
            since = require_utc(start, "start")
            query = query.where(col(IncidentRow.last_occurrence_at) >= since)
        if end is not None:
            until = require_utc(end, "end")
            query = query.where(col(IncidentRow.opened_at) < until)
        query = (
            query.order_by(
                col(IncidentRow.opened_at).desc(), col(IncidentRow.id).desc()
            )
            .limit(limit)
            .offset(offset)
        )
        with self._read() as s:
            return [incident_from_row(r) for r in s.exec(query)]

    def open_incidents(self, site_id: str | None = None) -> list[Incident]:
        """Return every incident that is not closed, oldest first."""
        query = select(IncidentRow).where(
            IncidentRow.state != str(IncidentState.CLOSED)
        )
        if site_id is not None:
            query = query.where(IncidentRow.site_id == site_id)
        query = query.order_by(col(IncidentRow.opened_at), col(IncidentRow.id))
        with self._read() as s:
            return [incident_from_row(r) for r in s.exec(query)]

    # --- timeline and evidence ----------------------------------------------------

    def add_incident_event(
        self,
        incident_id: int,
        kind: str,
        at: datetime,
        details: dict[str, Any] | None = None,
        *,
        actor_id: str | None = None,
    ) -> int:
        """Append an event (a return, a note ...) to the timeline; return its id."""
        at = require_utc(at, "event time")
        details_json = to_json(details or {}, "event details")
        if not kind:
            raise ValueError("an incident event needs a kind")
        with self._write() as s:
            row = _locked_incident(s, incident_id)
            row.updated_at = max(as_utc(row.updated_at), at)
            s.add(row)
            event = IncidentEventRow(
                incident_id=incident_id,
                at=at,
                kind=kind,
                details_json=details_json,
                actor_id=actor_id,
            )
            s.add(event)
            s.flush()
            return event.id or 0

    def incident_events(self, incident_id: int) -> list[IncidentEvent]:
        """Return the incident's timeline, oldest first."""
        query = (
            select(IncidentEventRow)
            .where(IncidentEventRow.incident_id == incident_id)
            .order_by(col(IncidentEventRow.at), col(IncidentEventRow.id))
        )
        with self._read() as s:
            return [event_from_row(r) for r in s.exec(query)]

    def add_evidence(
        self,
        incident_id: int,
        samples: Sequence[EvidenceSample],
        frames: Sequence[EvidenceFrame] = (),
    ) -> tuple[int, int]:
        """Append evidence positions and raw frames; return how many were new.

        Anything no newer than the incident's latest stored position (frame) is
        skipped as already stored. ``IncidentNotFound`` when there is no incident.
        """
        frames = [_checked_frame(f) for f in frames]
        with self._write() as s:
            _locked_incident(s, incident_id)
            newest_sample = s.execute(
                sa.select(sa.func.max(col(IncidentSampleRow.t_s))).where(
                    col(IncidentSampleRow.incident_id) == incident_id
                )
            ).scalar_one()
            newest_frame = s.execute(
                sa.select(sa.func.max(col(IncidentFrameRow.t_s))).where(
                    col(IncidentFrameRow.incident_id) == incident_id
                )
            ).scalar_one()
            new_samples = _newer(samples, newest_sample, key=lambda x: x.t_s)
            new_frames = _newer(frames, newest_frame, key=lambda f: f[0])
            connection = s.connection()
            sample_rows = [_sample_values(incident_id, x) for x in new_samples]
            insert_rows(connection, "incident_samples", _SAMPLE_COLUMNS, sample_rows)
            insert_rows(
                connection,
                "incident_frames",
                _FRAME_COLUMNS,
                [(incident_id, t_s, raw) for t_s, raw in new_frames],
            )
            if sample_rows or new_frames:
                # The frozen evidence's digest goes into the keyed audit chain.
                SqlAudit(s).append_system(
                    datetime.now(UTC),  # when it was stored
                    "incident.evidence",
                    "incident",
                    str(incident_id),
                    {
                        "samples": len(sample_rows),
                        "frames": len(new_frames),
                        "sha256": evidence_digest(sample_rows, new_frames),
                    },
                )
            return len(new_samples), len(new_frames)

    def evidence(self, incident_id: int) -> Evidence:
        """Return the incident's stored positions and frames, each in time order."""
        with self._read() as s:
            samples = s.exec(
                select(IncidentSampleRow)
                .where(IncidentSampleRow.incident_id == incident_id)
                .order_by(col(IncidentSampleRow.t_s), col(IncidentSampleRow.id))
            )
            frames = s.execute(
                sa.select(col(IncidentFrameRow.t_s), col(IncidentFrameRow.raw))
                .where(col(IncidentFrameRow.incident_id) == incident_id)
                .order_by(col(IncidentFrameRow.t_s), col(IncidentFrameRow.id))
            )
            return Evidence(
                tuple(sample_from_row(r) for r in samples),
                tuple((float(t), bytes(raw)) for t, raw in frames),
            )


# --- helpers ---------------------------------------------------------------------


def _replay(s: Session, key: str) -> tuple[IncidentId, bool] | None:
    opened = s.exec(
        select(IncidentRow.id).where(IncidentRow.idempotency_key == key)
    ).first()
    if opened is not None:
        return IncidentId(opened), True
    joined = s.exec(
        select(IncidentEventRow.incident_id).where(
            IncidentEventRow.idempotency_key == key
        )
    ).first()
    if joined is not None:
        return IncidentId(joined), False
    return None


def _group_query(new: NewIncident) -> Any:
    query = select(IncidentRow).where(
        IncidentRow.site_id == new.site_id,
        IncidentRow.kind == str(new.kind),
        IncidentRow.state != str(IncidentState.CLOSED),
    )
    if new.drone_id is not None:
        query = query.where(IncidentRow.drone_id == new.drone_id)
    else:
        query = query.where(
            col(IncidentRow.drone_id).is_(None),
            IncidentRow.vehicle_key == new.vehicle_key,
        )
    if new.booking_id is not None:
        query = query.where(IncidentRow.booking_id == new.booking_id)
    else:
        query = query.where(col(IncidentRow.booking_id).is_(None))
    return query.order_by(col(IncidentRow.id).desc()).limit(1)


def _join(s: Session, row: IncidentRow, new: NewIncident) -> None:
    if row.id is None:
        raise ValueError("incident row has no id")
    row.occurrences += 1
    row.last_occurrence_at = max(as_utc(row.last_occurrence_at), new.at)
    row.updated_at = max(as_utc(row.updated_at), new.at)
    if new.severity.rank > Severity(row.severity).rank:
        row.severity = str(new.severity)
    row.version += 1
    s.add(row)
    s.add(
        IncidentEventRow(
            incident_id=row.id,
            at=new.at,
            kind=OCCURRENCE,
            details_json=to_json(
                {
                    "message": new.message,
                    "severity": str(new.severity),
                    "vehicle_key": new.vehicle_key,
                    "rule": dict(new.rule),
                    "link": dict(new.link),
                },
                "event details",
            ),
            idempotency_key=new.idempotency_key,
        )
    )


def _locked_incident(s: Session, incident_id: int) -> IncidentRow:
    row = s.exec(
        select(IncidentRow).where(IncidentRow.id == incident_id).with_for_update()
    ).first()
    if row is None:
        raise IncidentNotFound(incident_id)
    return row


def _checked_frame(frame: EvidenceFrame) -> EvidenceFrame:
    t_s, raw = frame
    if not isinstance(raw, bytes | bytearray | memoryview) or not raw:
        raise ValueError(f"evidence frame at {t_s}: raw must be non-empty bytes")
    return float(t_s), bytes(raw)


def _newer(
    items: Iterable[T], newest: float | None, key: Callable[[T], float]
) -> list[T]:
    ordered = sorted(items, key=key)
    if newest is None:
        return ordered
    return [x for x in ordered if key(x) > newest]
