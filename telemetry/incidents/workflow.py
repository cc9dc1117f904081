"""The safety officers' incident workflow: who may change an incident, and how. Pure.

States and the transitions between them::

    open ──acknowledge──> acknowledged ──investigate──> investigating ──close──> closed
    reopened ─acknowledge─┘                                                        │
       ^─────────────────────────────────reopen────────────────────────────────────┘

``reopened`` behaves like ``open``. Besides transitions, staff may assign the
incident (to a safety officer or site admin, or to nobody), add a note (in any
state), adjust its severity and set its root-cause category (while it is not
closed). Closing needs a closing summary; the root cause defaults to the one set
during the investigation, else ``undetermined``.

``decide`` checks a command against an incident and returns the ``IncidentChange``
to store: the new workflow fields, the timeline event, and the ``AuditEntry``.
It never reads a clock; ``now`` is passed in. Optimistic concurrency: a command may
carry the ``version`` its sender saw; when the incident moved on meanwhile it is
refused with ``IncidentVersionConflict`` (409), so two officers never overwrite each
other unknowingly.

Refusals are ``booking.errors`` subclasses, so ``web/errors.py`` maps them to HTTP:

- ``NotFound`` (404): the incident does not exist *or* belongs to another
  organisation (operators and pilots read only their own organisation's);
- ``PermissionDenied`` (403): an operator or pilot tries to change one;
- ``IncidentTransitionRefused`` (409): the state does not allow the change;
- ``IncidentVersionConflict`` (409): the incident changed since ``version``;
- ``IncidentInputRefused`` (422): a required text (closing summary, reason) is
  missing or too long.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from booking.errors import (
    BookingConflict,
    BookingRuleViolation,
    NotFound,
    PermissionDenied,
    Rule,
)
from booking.model import Actor, AuditEntry, Role
from booking.permissions import can_see
from telemetry.incidents.model import Incident, IncidentState, Severity, require_utc

MANAGER_ROLES: Final = frozenset({Role.SAFETY_OFFICER, Role.SITE_ADMIN})
"""Who may change incidents (and be assigned one)."""
MAX_TEXT_CHARS: Final = 10_000
"""Longest note, reason or closing summary."""
AUDIT_SUBJECT: Final = "incident"


class RootCause(enum.StrEnum):
    """Why it happened, as the safety officer found it (one category per incident)."""

    PILOT_ERROR = "pilot_error"
    FLIGHT_PLANNING = "flight_planning"
    """The flight plan did not fit the booked corridor or window."""
    NAVIGATION = "navigation"
    """GNSS degradation, position or altitude error."""
    AUTOPILOT = "autopilot"
    """Autopilot behaviour, tuning or mission logic."""
    HARDWARE = "hardware"
    """Airframe, propulsion, battery or sensor failure."""
    COMMUNICATIONS = "communications"
    """Command-and-control or telemetry link loss."""
    WEATHER = "weather"
    UNAUTHORISED_FLIGHT = "unauthorised_flight"
    """No booking, a booking not kept, or an unregistered drone."""
    SECURITY = "security"
    """Spoofed or tampered frames, interference."""
    MONITORING_ERROR = "monitoring_error"
    """A false alarm: the site's monitoring or data was wrong."""
    OTHER = "other"
    UNDETERMINED = "undetermined"


# --- commands -------------------------------------------------------------------


@dataclass(frozen=True)
class Acknowledge:
    """Command: a staff member has seen the incident (from open or reopened)."""

    note: str = ""


@dataclass(frozen=True)
class Investigate:
    """Command: start investigating an acknowledged incident."""

    note: str = ""


@dataclass(frozen=True)
class Assign:
    """Command: hand the incident to a staff member (None: to nobody).

    ``assignee_role`` is the assignee's role as the caller found it in the user
    table (None: no such user); only safety officers and site admins take
    incidents.
    """

    assignee_id: str | None
    note: str = ""
    assignee_role: Role | None = None


@dataclass(frozen=True)
class AddNote:
    """Command: add a free-text note to the timeline (any state)."""

    text: str


@dataclass(frozen=True)
class AdjustSeverity:
    """Command: change the severity the rule gave, with the reason."""

    severity: Severity
    reason: str


@dataclass(frozen=True)
class SetRootCause:
    """Command: record the root-cause category found so far."""

    root_cause: RootCause
    note: str = ""


@dataclass(frozen=True)
class Close:
    """Command: close an incident under investigation with a summary."""

    summary: str
    root_cause: RootCause | None = None


@dataclass(frozen=True)
class Reopen:
    """Command: reopen a closed incident, with the reason."""

    reason: str


@dataclass(frozen=True)
class RecordVehicleCommand:
    """Command: record a safety command sent to the incident's vehicle and the
    vehicle's answer (any state: the aircraft does not wait for the paperwork).

    ``answer`` is ``accepted``, ``denied (...)`` or ``no answer ...``;
    ``authenticated`` is False when the vehicle's frames are not signed.
    """

    command: str
    reason: str
    answer: str
    authenticated: bool


IncidentCommand = (
    Acknowledge
    | Investigate
    | Assign
    | AddNote
    | RecordVehicleCommand
    | AdjustSeverity
    | SetRootCause
    | Close
    | Reopen
)

TRANSITIONS: Final[Mapping[IncidentState, frozenset[IncidentState]]] = {
    IncidentState.OPEN: frozenset({IncidentState.ACKNOWLEDGED}),
    IncidentState.REOPENED: frozenset({IncidentState.ACKNOWLEDGED}),
    IncidentState.ACKNOWLEDGED: frozenset({IncidentState.INVESTIGATING}),
    IncidentState.INVESTIGATING: frozenset({IncidentState.CLOSED}),
    IncidentState.CLOSED: frozenset({IncidentState.REOPENED}),
}
"""The allowed state changes; everything else is refused."""


# --- errors ---------------------------------------------------------------------


class IncidentTransitionRefused(BookingConflict):
    """The incident's state does not allow the change (409)."""

    def __init__(self, incident_id: int, from_state: str, to_state: str) -> None:
        self.from_state = from_state
        self.to_state = to_state
        super().__init__(
            Rule.TRANSITION,
            f"incident {incident_id} cannot go from {from_state} to {to_state}",
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the error with ``from_state`` and ``to_state`` added."""
        return {
            **super().as_dict(),
            "from_state": self.from_state,
            "to_state": self.to_state,
        }


class IncidentVersionConflict(BookingConflict):
    """The incident changed since the version the command was based on (409)."""

    def __init__(self, incident_id: int, expected: int, found: int) -> None:
        self.expected = expected
        self.found = found
        super().__init__(
            Rule.CONCURRENT_WRITE,
            f"incident {incident_id} is at version {found}, not {expected}: "
            "someone changed it meanwhile; reload and try again",
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the error with the ``expected_version`` and ``version`` found."""
        return {
            **super().as_dict(),
            "expected_version": self.expected,
            "version": self.found,
        }


class IncidentInputRefused(BookingRuleViolation):
    """A text the change needs is missing or too long (422); ``field`` names it."""

    def __init__(self, incident_id: int, field_name: str, reason: str) -> None:
        self.field = field_name
        super().__init__(Rule.TRANSITION, f"incident {incident_id}: {reason}")

    def as_dict(self) -> dict[str, Any]:
        """Return the error with the ``field`` at fault."""
        return {**super().as_dict(), "field": self.field}


# --- the decision ---------------------------------------------------------------


@dataclass(frozen=True)
class IncidentChange:
    """What to store for one accepted command.

    The workflow fields are the incident's values *after* the change (unchanged
    ones repeated); ``event_kind``/``event_details`` go on the timeline and
    ``audit`` into the audit trail.
    """

    state: IncidentState
    severity: Severity
    assignee_id: str | None
    root_cause: str | None
    closing_summary: str | None
    closed_at: datetime | None
    at: datetime
    event_kind: str
    event_details: Mapping[str, Any]
    audit: AuditEntry


def can_read(actor: Actor, incident: Incident) -> bool:
    """Return True when ``actor`` may see ``incident``.

    Staff see every incident; operators and pilots only their organisation's (an
    incident with no known operator, such as an unregistered drone's, is staff's).
    """
    return can_see(actor, incident.operator_id)


def require_manager(actor: Actor, incident: Incident, action: str) -> None:
    """Refuse (``NotFound`` or ``PermissionDenied``) unless ``actor`` may change it."""
    if not can_read(actor, incident):
        raise NotFound("incident", incident.id)
    if actor.role not in MANAGER_ROLES:
        raise PermissionDenied(
            f"{actor} may not {action} incident {incident.id}: only safety officers "
            "and site admins may"
        )


def incident_snapshot(incident: Incident) -> dict[str, str]:
    """Return the workflow fields as flat strings, for audit before/after values."""
    return {
        "id": str(incident.id),
        "kind": str(incident.kind),
        "state": str(incident.state),
        "severity": str(incident.severity),
        "assignee_id": incident.assignee_id or "",
        "root_cause": incident.root_cause or "",
        "closing_summary": incident.closing_summary or "",
        "version": str(incident.version),
    }


def decide(
    incident: Incident,
    command: IncidentCommand,
    actor: Actor,
    now: datetime,
    *,
    expected_version: int | None = None,
) -> IncidentChange:
    """Return the change ``command`` makes to ``incident``, or raise a refusal.

    ``now`` is aware UTC. ``expected_version``, when given, must equal the
    incident's version. See the module docstring for the refusals.
    """
    now = require_utc(now, "incident change time")
    action = _ACTION_NAMES[type(command)]
    require_manager(actor, incident, action)
    if expected_version is not None and expected_version != incident.version:
        raise IncidentVersionConflict(incident.id, expected_version, incident.version)
    draft = _Draft.of(incident, now)
    note = ""
    match command:
        case Acknowledge(note=text):
            note = _optional_text(incident, "note", text)
            draft.move(IncidentState.ACKNOWLEDGED)
        case Investigate(note=text):
            note = _optional_text(incident, "note", text)
            draft.move(IncidentState.INVESTIGATING)
        case Assign(assignee_id=assignee, note=text, assignee_role=role):
            note = _optional_text(incident, "note", text)
            draft.refuse_when_closed("assigned")
            if assignee and role not in MANAGER_ROLES:
                raise IncidentInputRefused(
                    incident.id,
                    "assignee_id",
                    f"user {assignee} cannot take incidents: "
                    + ("no such user" if role is None else f"a {role} is not staff"),
                )
            draft.event("assigned", previous=incident.assignee_id, assignee_id=assignee)
            draft.assignee_id = assignee or None
        case AddNote(text=text):
            note = _required_text(incident, "text", text, "a note needs text")
            draft.event("note")
        case RecordVehicleCommand(
            command=what, reason=text, answer=answer, authenticated=signed
        ):
            note = _required_text(
                incident, "reason", text, "a command to a vehicle needs a reason"
            )
            draft.event(
                "vehicle_command",
                command=what,
                answer=answer,
                authenticated=signed,
            )
        case AdjustSeverity(severity=severity, reason=text):
            note = _required_text(
                incident, "reason", text, "a severity change needs a reason"
            )
            draft.refuse_when_closed(f"severity {severity}")
            new = Severity(severity)
            draft.event("severity_changed", **{"from": str(incident.severity)}, to=new)
            draft.severity = new
        case SetRootCause(root_cause=cause, note=text):
            note = _optional_text(incident, "note", text)
            draft.refuse_when_closed("root cause set")
            new_cause = RootCause(cause)
            draft.event(
                "root_cause_set", **{"from": incident.root_cause}, to=str(new_cause)
            )
            draft.root_cause = str(new_cause)
        case Close(summary=text, root_cause=cause):
            summary = _required_text(
                incident, "summary", text, "closing needs a closing summary"
            )
            draft.move(IncidentState.CLOSED)
            draft.closing_summary = summary
            draft.root_cause = str(
                RootCause(cause)
                if cause is not None
                else incident.root_cause or RootCause.UNDETERMINED
            )
            draft.details |= {"summary": summary, "root_cause": draft.root_cause}
        case Reopen(reason=text):
            note = _required_text(incident, "reason", text, "reopening needs a reason")
            draft.move(IncidentState.REOPENED)
    if note:
        draft.details["note"] = note
    return draft.change(incident, actor, action, note)


_ACTION_NAMES: Final[Mapping[type, str]] = {
    Acknowledge: "acknowledge",
    Investigate: "investigate",
    Assign: "assign",
    AddNote: "note",
    RecordVehicleCommand: "command the vehicle of",
    AdjustSeverity: "adjust the severity of",
    SetRootCause: "set the root cause of",
    Close: "close",
    Reopen: "reopen",
}
_AUDIT_ACTIONS: Final[Mapping[str, str]] = {
    "assigned": "incident.assigned",
    "note": "incident.noted",
    "vehicle_command": "incident.vehicle_commanded",
    "severity_changed": "incident.severity_changed",
    "root_cause_set": "incident.root_cause_set",
}


@dataclass
class _Draft:
    """The incident's workflow fields while ``decide`` changes them."""

    incident_id: int
    state: IncidentState
    severity: Severity
    assignee_id: str | None
    root_cause: str | None
    closing_summary: str | None
    closed_at: datetime | None
    now: datetime
    kind: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, incident: Incident, now: datetime) -> _Draft:
        return cls(
            incident.id,
            incident.state,
            incident.severity,
            incident.assignee_id,
            incident.root_cause,
            incident.closing_summary,
            incident.closed_at,
            now,
        )

    def move(self, to: IncidentState) -> None:
        if to not in TRANSITIONS[self.state]:
            raise IncidentTransitionRefused(self.incident_id, self.state, to)
        self.event("state_changed", **{"from": str(self.state)}, to=str(to))
        self.state = to
        self.closed_at = self.now if to is IncidentState.CLOSED else None

    def refuse_when_closed(self, change: str) -> None:
        if self.state is IncidentState.CLOSED:
            raise IncidentTransitionRefused(
                self.incident_id, self.state, f"{change} (reopen it first)"
            )

    def event(self, kind: str, **details: Any) -> None:
        self.kind = kind
        self.details = {
            k: str(v) if isinstance(v, enum.Enum) else v for k, v in details.items()
        }

    def change(
        self, before: Incident, actor: Actor, action: str, note: str
    ) -> IncidentChange:
        after = {
            **incident_snapshot(before),
            "state": str(self.state),
            "severity": str(self.severity),
            "assignee_id": self.assignee_id or "",
            "root_cause": self.root_cause or "",
            "closing_summary": self.closing_summary or "",
            "version": str(before.version + 1),
        }
        verb = (
            f"incident.{self.state}"
            if self.kind == "state_changed"
            else _AUDIT_ACTIONS.get(self.kind, f"incident.{action}")
        )
        audit = AuditEntry(
            self.now,
            actor.user_id,
            actor.role,
            verb,
            AUDIT_SUBJECT,
            str(before.id),
            incident_snapshot(before),
            after,
            note,
        )
        return IncidentChange(
            state=self.state,
            severity=self.severity,
            assignee_id=self.assignee_id,
            root_cause=self.root_cause,
            closing_summary=self.closing_summary,
            closed_at=self.closed_at,
            at=self.now,
            event_kind=self.kind,
            event_details=dict(self.details),
            audit=audit,
        )


def _optional_text(incident: Incident, name: str, text: str) -> str:
    text = text.strip()
    if len(text) > MAX_TEXT_CHARS:
        raise IncidentInputRefused(
            incident.id,
            name,
            f"{name} is {len(text)} characters, over {MAX_TEXT_CHARS}",
        )
    return text


def _required_text(incident: Incident, name: str, text: str, reason: str) -> str:
    text = _optional_text(incident, name, text)
    if not text:
        raise IncidentInputRefused(incident.id, name, reason)
    return text
