"""Stores a workflow decision: incident row, timeline event and audit record, at once.

``apply_command`` runs inside the caller's *write* session (``web.db.write_session``:
``BEGIN IMMEDIATE`` on SQLite) and locks the incident row (``FOR UPDATE`` on
PostgreSQL) before reading it, so the version check and the change are atomic.
The audit record is appended through the ``AuditLog`` the caller made on the same
session, so the change, its timeline entry and its audit record commit together or
not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from booking.errors import NotFound
from booking.model import Actor
from booking.ports import AuditLog
from telemetry.incidents.model import Incident, IncidentEvent, IncidentId, to_json
from telemetry.incidents.repository import incident_from_row
from telemetry.incidents.tables import IncidentEventRow, IncidentRow
from telemetry.incidents.workflow import IncidentChange, IncidentCommand, decide


@dataclass(frozen=True)
class AppliedChange:
    """The incident after an accepted command, and the timeline event it added."""

    incident: Incident
    event: IncidentEvent
    change: IncidentChange


def apply_command(
    session: Session,
    audit: AuditLog,
    incident_id: int,
    command: IncidentCommand,
    actor: Actor,
    now: datetime,
    *,
    expected_version: int | None = None,
) -> AppliedChange:
    """Decide ``command`` on the stored incident and write the result (no commit).

    Raises what ``incident_workflow.decide`` raises, and ``NotFound`` when no
    incident has ``incident_id``; nothing is written then.
    """
    row = session.exec(
        select(IncidentRow).where(IncidentRow.id == incident_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound("incident", incident_id)
    before = incident_from_row(row)
    change = decide(before, command, actor, now, expected_version=expected_version)
    row.state = str(change.state)
    row.severity = str(change.severity)
    row.assignee_id = change.assignee_id
    row.root_cause = change.root_cause
    row.closing_summary = change.closing_summary
    row.closed_at = change.closed_at
    row.updated_at = max(before.updated_at, change.at)
    row.version = before.version + 1
    session.add(row)
    event_row = IncidentEventRow(
        incident_id=incident_id,
        at=change.at,
        kind=change.event_kind,
        details_json=to_json(change.event_details, "event details"),
        actor_id=actor.user_id,
    )
    session.add(event_row)
    session.flush()
    audit.append(change.audit)
    event = IncidentEvent(
        id=event_row.id or 0,
        incident_id=IncidentId(incident_id),
        at=change.at,
        kind=change.event_kind,
        details=dict(change.event_details),
        actor_id=actor.user_id,
    )
    return AppliedChange(incident_from_row(row), event, change)
