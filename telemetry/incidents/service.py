"""The one write path for workflow changes: decide, then store it all at once.

``IncidentService.apply`` opens an ``IncidentUnitOfWork`` (one *write* transaction:
``web.db.write_session``, ``BEGIN IMMEDIATE`` on SQLite), builds the command inside it
(an assignment looks the assignee up in the same transaction), and hands it to
``apply_command``, which locks the incident row (``FOR UPDATE`` on PostgreSQL)
before reading it, so the version check and the change are atomic. The incident
row, its timeline event and its audit record (appended through the unit of work's
``SqlAudit`` on the same session) commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from booking.audit_log import SqlAudit
from booking.errors import NotFound
from booking.model import Actor, Role
from booking.ports import AuditLog
from booking.unit_of_work import SessionScope
from booking.user_repository import SqlUsers
from telemetry.incidents.model import Incident, IncidentEvent, IncidentId, to_json
from telemetry.incidents.tables import IncidentEventRow, IncidentRow, incident_from_row
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


class IncidentUnitOfWork(SessionScope):
    """One write transaction over an incident, its timeline and the audit trail.

    ``session_factory`` opens the transaction and commits it when the ``with``
    block ends without an error (``web.db.write_session``); an error rolls it back.
    """

    def audit(self) -> AuditLog:
        """Return the audit trail on this transaction."""
        return SqlAudit(self.session)

    def role_of(self, user_id: str) -> Role | None:
        """Return the role of user ``user_id``, or None when there is no such user."""
        user = SqlUsers(self.session).get(user_id)
        return user.role if user is not None else None


CommandFactory = Callable[[IncidentUnitOfWork], IncidentCommand]
"""Builds the command inside the transaction (an assignment reads the assignee)."""


class IncidentService:
    """Applies the staff's workflow commands to stored incidents (blocking: call it
    from a worker thread, never the event loop)."""

    def __init__(self, uow_factory: Callable[[], IncidentUnitOfWork]) -> None:
        self._uow_factory = uow_factory

    def apply(
        self,
        incident_id: int,
        command: IncidentCommand | CommandFactory,
        actor: Actor,
        now: datetime,
        *,
        expected_version: int | None = None,
    ) -> AppliedChange:
        """Decide ``command`` on the incident and commit the change, its timeline
        event and its audit record in one transaction; return what changed.

        ``command`` may be a factory called inside the transaction. Raises what
        ``apply_command`` raises; nothing is written then.
        """
        with self._uow_factory() as uow:
            decided = command(uow) if callable(command) else command
            return apply_command(
                uow.session,
                uow.audit(),
                incident_id,
                decided,
                actor,
                now,
                expected_version=expected_version,
            )
