"""Incidents: what the gateway raises and the safety officers work through.

- ``model``: the plain values (``NewIncident``, ``Incident``, evidence, tracks);
- ``workflow``: the pure rules of the staff's commands (``decide``, ``can_read``);
- ``tables``: the SQLModel rows; ``repository``: ``IncidentRepository`` (open and
  group incidents, timeline events, evidence, reads);
- ``service``: ``IncidentService``, the one write path for workflow changes, each in
  its ``IncidentUnitOfWork``.

Layers: ``recording``, ``live`` and ``reports`` import this wing, never the reverse.
"""

from telemetry.incidents.model import (
    Evidence,
    EvidenceBuilder,
    EvidenceFrame,
    EvidencePhase,
    EvidenceSample,
    Incident,
    IncidentEvent,
    IncidentId,
    IncidentKind,
    IncidentNotFound,
    IncidentState,
    NewIncident,
    Severity,
    TrackSample,
    VolumeSnapshot,
)
from telemetry.incidents.repository import MAX_LIST_LIMIT, IncidentRepository
from telemetry.incidents.service import (
    AppliedChange,
    IncidentService,
    IncidentUnitOfWork,
)
from telemetry.incidents.workflow import IncidentCommand, RootCause, can_read

__all__ = [
    "MAX_LIST_LIMIT",
    "AppliedChange",
    "Evidence",
    "EvidenceBuilder",
    "EvidenceFrame",
    "EvidencePhase",
    "EvidenceSample",
    "Incident",
    "IncidentCommand",
    "IncidentEvent",
    "IncidentId",
    "IncidentKind",
    "IncidentNotFound",
    "IncidentRepository",
    "IncidentService",
    "IncidentState",
    "IncidentUnitOfWork",
    "NewIncident",
    "RootCause",
    "Severity",
    "TrackSample",
    "VolumeSnapshot",
    "can_read",
]
