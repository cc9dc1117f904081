"""The incident and audit API's bodies (the live ``incident`` frame is built in
``telemetry.live.frames``).

Every change body takes an optional ``version``: the incident version the client
last saw. When given and the incident has moved on, the change is refused with 409
(rule ``concurrent_write``) instead of overwriting someone else's. Texts are
checked by the workflow (``telemetry.incidents.workflow``) so a missing closing
summary gets its own message; the limits here only keep bodies bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field

from telemetry.incidents.model import (
    Incident,
    IncidentEvent,
    IncidentKind,
    IncidentState,
    Severity,
)
from telemetry.incidents.workflow import MAX_TEXT_CHARS, RootCause
from telemetry.reports.replay import volume_json

Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]
Version = Annotated[
    int | None,
    Field(
        ge=1,
        le=2**63 - 1,
        description="The incident version last seen; 409 when it moved on.",
    ),
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentPublic(BaseModel):
    """An incident as the API lists it."""

    id: int
    site_id: str
    kind: IncidentKind
    severity: Severity
    state: IncidentState
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    last_occurrence_at: datetime
    occurrences: int
    vehicle_key: str
    sysid: int
    drone_id: str | None
    operator_id: str | None
    booking_id: int | None
    corridor_id: str | None
    message: str
    assignee_id: str | None
    root_cause: str | None
    closing_summary: str | None
    version: int

    @classmethod
    def of(cls, i: Incident) -> Self:
        """Return the public view of ``i``."""
        return cls(
            id=i.id,
            site_id=i.site_id,
            kind=i.kind,
            severity=i.severity,
            state=i.state,
            opened_at=i.opened_at,
            updated_at=i.updated_at,
            closed_at=i.closed_at,
            last_occurrence_at=i.last_occurrence_at,
            occurrences=i.occurrences,
            vehicle_key=i.vehicle_key,
            sysid=i.sysid,
            drone_id=i.drone_id,
            operator_id=i.operator_id,
            booking_id=i.booking_id,
            corridor_id=i.corridor_id,
            message=i.message,
            assignee_id=i.assignee_id,
            root_cause=i.root_cause,
            closing_summary=i.closing_summary,
            version=i.version,
        )


class IncidentEventPublic(BaseModel):
    """One timeline entry; ``actor_id`` None is the gateway itself."""

    id: int
    at: datetime
    kind: str
    actor_id: str | None
    details: dict[str, Any]

    @classmethod
    def of(cls, e: IncidentEvent) -> Self:
        """Return the public view of ``e``."""
        return cls(
            id=e.id, at=e.at, kind=e.kind, actor_id=e.actor_id, details=dict(e.details)
        )


class IncidentDetail(IncidentPublic):
    """An incident with its rule, link figures, assigned volume and timeline."""

    rule: dict[str, Any]
    link: dict[str, Any]
    volume: dict[str, Any] | None
    events: list[IncidentEventPublic]

    @classmethod
    def with_events(cls, i: Incident, events: Sequence[IncidentEvent]) -> Self:
        """Return ``i`` with its timeline ``events``."""
        return cls(
            **IncidentPublic.of(i).model_dump(),
            rule=dict(i.rule),
            link=dict(i.link),
            volume=volume_json(i.volume),
            events=[IncidentEventPublic.of(e) for e in events],
        )


class IncidentChanged(BaseModel):
    """The incident after a change, and the timeline event the change added."""

    incident: IncidentPublic
    event: IncidentEventPublic


class IncidentNoteBody(_Body):
    """An optional note with a state change."""

    note: Text = ""
    version: Version = None


class IncidentAssign(_Body):
    """Assign to a safety officer or site admin; ``assignee_id`` null unassigns."""

    assignee_id: str | None = Field(max_length=128)
    note: Text = ""
    version: Version = None


class IncidentNote(_Body):
    """A note for the timeline."""

    text: Text = ""
    version: Version = None


class IncidentSeverity(_Body):
    """A severity adjustment with its reason."""

    severity: Severity
    reason: Text = ""
    version: Version = None


class IncidentRootCause(_Body):
    """The root-cause category found so far."""

    root_cause: RootCause
    note: Text = ""
    version: Version = None


class IncidentClose(_Body):
    """Close with a summary (required); ``root_cause`` defaults to the one set."""

    summary: Text = ""
    root_cause: RootCause | None = None
    version: Version = None


class IncidentReopen(_Body):
    """Reopen with a reason (required)."""

    reason: Text = ""
    version: Version = None
