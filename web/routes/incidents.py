"""Incidents: list, read, evidence, and the safety officers' workflow actions.

Reads follow ``telemetry.incidents.workflow.can_read``: staff see every incident,
operators and pilots their organisation's; another's answers 404 like a missing
one. Only safety officers and site admins change incidents (others get 403).

Each change (``POST /incidents/{id}/<action>``) goes through the incident service
(``IncidentServiceDep``): one write transaction that updates the incident, appends
its timeline event and its audit record; after the commit it is published on the
live stream as an ``incident`` frame. The change
routes are ``async`` so the hub is called on the event loop; their database work
runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Annotated, Any, cast

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime
from sqlalchemy.engine import Engine
from sqlmodel import Session

from booking.errors import NotFound
from booking.model import Actor
from booking.permissions import visible_operator
from telemetry.incidents.model import (
    EvidencePhase,
    Incident,
    IncidentKind,
    IncidentState,
)
from telemetry.incidents.repository import MAX_LIST_LIMIT, IncidentRepository
from telemetry.incidents.service import (
    AppliedChange,
    CommandFactory,
    IncidentService,
    IncidentUnitOfWork,
)
from telemetry.incidents.workflow import (
    Acknowledge,
    AddNote,
    AdjustSeverity,
    Assign,
    Close,
    IncidentCommand,
    Investigate,
    Reopen,
    SetRootCause,
    can_read,
)
from telemetry.live.frames import incident_change_frame, utc_iso
from telemetry.reports.replay import EVIDENCE_FIELDS, sample_json, volume_json
from web.db import write_session
from web.deps import ActorDep, IncidentServiceDep
from web.incident_schemas import (
    IncidentAssign,
    IncidentChanged,
    IncidentClose,
    IncidentDetail,
    IncidentEventPublic,
    IncidentNote,
    IncidentNoteBody,
    IncidentPublic,
    IncidentReopen,
    IncidentRootCause,
    IncidentSeverity,
)
from web.input_limits import DbId, DbIdQuery, Offset

logger = logging.getLogger(__name__)

router = APIRouter(tags=["incidents"])


def incident_repository(request: Request) -> IncidentRepository:
    """Return the app's incident repository (one on the engine if the runtime has
    none)."""
    incidents = getattr(request.app.state.telemetry, "incidents", None)
    if isinstance(incidents, IncidentRepository):
        return incidents
    engine = cast(Engine, request.app.state.engine)
    return IncidentRepository(lambda: write_session(engine), lambda: Session(engine))


def visible_incident(
    incidents: IncidentRepository, actor: Actor, incident_id: DbId
) -> Incident:
    """Return the incident if ``actor`` may see it; ``NotFound`` otherwise."""
    incident = incidents.get_incident(incident_id)
    if incident is None or not can_read(actor, incident):
        raise NotFound("incident", incident_id)
    return incident


@router.get("/incidents")
def incidents_index(
    request: Request,
    actor: ActorDep,
    state: IncidentState | None = None,
    kind: IncidentKind | None = None,
    site: str | None = None,
    drone: str | None = None,
    operator: str | None = None,
    booking: DbIdQuery = None,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = 100,
    offset: Offset = 0,
) -> list[IncidentPublic]:
    """Return the incidents the caller may see, newest opened first.

    ``from``/``to`` keep the incidents active in ``[from, to)``: opened before
    ``to`` with an occurrence at or after ``from``.
    """
    only = visible_operator(actor)
    if only is not None:
        if operator is not None and operator != only:
            return []
        operator = only
    found = incident_repository(request).list_incidents(
        state=state,
        kind=kind,
        site_id=site,
        drone_id=drone,
        operator_id=operator,
        booking_id=booking,
        start=start,
        end=end,
        limit=limit,
        offset=offset,
    )
    return [IncidentPublic.of(i) for i in found]


@router.get("/incidents/{incident_id}")
def incidents_show(
    incident_id: DbId, request: Request, actor: ActorDep
) -> IncidentDetail:
    """Return one incident with its rule, volume, link figures and timeline."""
    incidents = incident_repository(request)
    incident = visible_incident(incidents, actor, incident_id)
    return IncidentDetail.with_events(incident, incidents.incident_events(incident_id))


@router.get("/incidents/{incident_id}/evidence")
def incidents_evidence(
    incident_id: DbId, request: Request, actor: ActorDep
) -> dict[str, Any]:
    """Return the incident's evidence as it was frozen when it opened.

    ``before``/``after``: full-rate positions around the opening; ``frames``: how
    many raw MAVLink frames were kept (export them with ``?format=tlog``);
    ``volume``: the assigned volume at the time; ``rule`` and ``link``: the rule's
    thresholds and the link-quality figures.
    """
    incidents = incident_repository(request)
    incident = visible_incident(incidents, actor, incident_id)
    evidence = incidents.evidence(incident_id)
    frames = evidence.frames
    opened_s = incident.opened_at.timestamp()
    before = [s for s in evidence.samples if s.phase is EvidencePhase.BEFORE]
    after = [s for s in evidence.samples if s.phase is EvidencePhase.AFTER]
    return {
        "incident_id": incident.id,
        "opened_utc": utc_iso(opened_s),
        "volume": volume_json(incident.volume),
        "rule": dict(incident.rule),
        "link": dict(incident.link),
        "before": [sample_json(s, EVIDENCE_FIELDS) for s in before],
        "after": [sample_json(s, EVIDENCE_FIELDS) for s in after],
        "covered_s": {
            "before": round(opened_s - before[0].t_s, 3) if before else 0.0,
            "after": round(after[-1].t_s - opened_s, 3) if after else 0.0,
        },
        "frames": {
            "count": len(frames),
            "bytes": sum(len(raw) for _, raw in frames),
            "first_utc": utc_iso(frames[0][0]) if frames else None,
            "last_utc": utc_iso(frames[-1][0]) if frames else None,
        },
    }


# --- changes -------------------------------------------------------------------


async def _change(
    request: Request,
    service: IncidentService,
    incident_id: DbId,
    actor: Actor,
    command: IncidentCommand | CommandFactory,
    version: int | None,
) -> IncidentChanged:
    def apply() -> AppliedChange:
        return service.apply(
            incident_id, command, actor, datetime.now(UTC), expected_version=version
        )

    applied = await asyncio.to_thread(apply)
    try:
        # Same audience as the gateway's incident frames (None: everyone, as for an
        # unregistered drone); the frame carries no note text (PRIVATE_DETAILS).
        request.app.state.telemetry.publish(
            incident_change_frame(applied.incident, applied.event),
            applied.incident.operator_id,
        )
    except Exception:
        # Committed already: a live-stream hiccup must not turn it into an error.
        logger.exception("incident %s changed but not published", incident_id)
    return IncidentChanged(
        incident=IncidentPublic.of(applied.incident),
        event=IncidentEventPublic.of(applied.event),
    )


@router.post("/incidents/{incident_id}/acknowledge")
async def incidents_acknowledge(
    incident_id: DbId,
    request: Request,
    actor: ActorDep,
    service: IncidentServiceDep,
    body: IncidentNoteBody | None = None,
) -> IncidentChanged:
    """Acknowledge an open or reopened incident (safety officers, site admins)."""
    b = body or IncidentNoteBody()
    return await _change(
        request, service, incident_id, actor, Acknowledge(b.note), b.version
    )


@router.post("/incidents/{incident_id}/investigate")
async def incidents_investigate(
    incident_id: DbId,
    request: Request,
    actor: ActorDep,
    service: IncidentServiceDep,
    body: IncidentNoteBody | None = None,
) -> IncidentChanged:
    """Start investigating an acknowledged incident."""
    b = body or IncidentNoteBody()
    return await _change(
        request, service, incident_id, actor, Investigate(b.note), b.version
    )


@router.post("/incidents/{incident_id}/assign")
async def incidents_assign(
    incident_id: DbId,
    request: Request,
    actor: ActorDep,
    service: IncidentServiceDep,
    body: IncidentAssign,
) -> IncidentChanged:
    """Assign the incident to a safety officer or site admin (null: unassign)."""

    def command(uow: IncidentUnitOfWork) -> IncidentCommand:
        role = uow.role_of(body.assignee_id) if body.assignee_id else None
        return Assign(body.assignee_id, body.note, role)

    return await _change(request, service, incident_id, actor, command, body.version)


@router.post("/incidents/{incident_id}/note")
async def incidents_note(
    incident_id: DbId,
    request: Request,
    actor: ActorDep,
    service: IncidentServiceDep,
    body: IncidentNote,
) -> IncidentChanged:
    """Add a note to the timeline (any state)."""
    return await _change(
        request, service, incident_id, actor, AddNote(body.text), body.version
    )


@router.post("/incidents/{incident_id}/severity")
async def incidents_severity(
    incident_id: DbId,
    request: Request,
    actor: ActorDep,
    service: IncidentServiceDep,
    body: IncidentSeverity,
) -> IncidentChanged:
    """Adjust the severity the rule gave, with a reason."""
    return await _change(
        request,
        service,
        incident_id,
        actor,
        AdjustSeverity(body.severity, body.reason),
        body.version,
    )


@router.post("/incidents/{incident_id}/root-cause")
async def incidents_root_cause(
    incident_id: DbId,
    request: Request,
    actor: ActorDep,
    service: IncidentServiceDep,
    body: IncidentRootCause,
) -> IncidentChanged:
    """Record the root-cause category found so far."""
    return await _change(
        request,
        service,
        incident_id,
        actor,
        SetRootCause(body.root_cause, body.note),
        body.version,
    )


@router.post("/incidents/{incident_id}/close")
async def incidents_close(
    incident_id: DbId,
    request: Request,
    actor: ActorDep,
    service: IncidentServiceDep,
    body: IncidentClose,
) -> IncidentChanged:
    """Close an incident under investigation; a closing summary is required."""
    return await _change(
        request,
        service,
        incident_id,
        actor,
        Close(body.summary, body.root_cause),
        body.version,
    )


@router.post("/incidents/{incident_id}/reopen")
async def incidents_reopen(
    incident_id: DbId,
    request: Request,
    actor: ActorDep,
    service: IncidentServiceDep,
    body: IncidentReopen,
) -> IncidentChanged:
    """Reopen a closed incident, with a reason."""
    return await _change(
        request, service, incident_id, actor, Reopen(body.reason), body.version
    )
