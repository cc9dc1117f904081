"""The incident tables: incidents, their timeline events and their evidence rows.

``incidents``, ``incident_events`` (the timeline), ``incident_samples`` and
``incident_frames`` (the evidence window), created only by the Alembic migration
``0002``, and the mapping of their rows back to the domain values (``*_from_row``;
SQLite hands datetimes back naive, ``airspace.utc.as_utc`` makes them aware). The
repository (``telemetry.incidents.repository``) and the incident service
(``telemetry.incidents.service``) read and write them; reports may query them
directly.
"""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from airspace.site import CorridorId, SiteId
from airspace.utc import as_utc, as_utc_or_none
from booking.model import BookingId, DroneId, OperatorId
from telemetry.incidents.model import (
    EvidencePhase,
    EvidenceSample,
    Incident,
    IncidentEvent,
    IncidentId,
    IncidentKind,
    IncidentState,
    Severity,
    VolumeSnapshot,
)

# Row counts of the sample tables outgrow 32 bits on PostgreSQL; SQLite's rowid is
# already 64-bit and only a plain INTEGER primary key is its alias.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UtcDateTime = sa.DateTime(timezone=True)


class IncidentRow(SQLModel, table=True):
    """One incident (see ``telemetry.incidents.model.Incident``)."""

    __tablename__ = "incidents"
    id: int | None = Field(default=None, primary_key=True)
    site_id: str = Field(index=True)
    kind: str = Field(index=True)
    severity: str
    state: str = Field(index=True)
    opened_at: datetime = Field(sa_type=UtcDateTime, index=True)
    updated_at: datetime = Field(sa_type=UtcDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    vehicle_key: str = Field(index=True)
    sysid: int
    drone_id: str | None = Field(default=None, index=True)
    operator_id: str | None = Field(default=None, index=True)
    booking_id: int | None = Field(default=None, index=True)
    corridor_id: str | None = None
    message: str
    rule_json: str = Field(sa_type=sa.Text)
    volume_json: str | None = Field(default=None, sa_type=sa.Text)
    link_json: str = Field(sa_type=sa.Text)
    occurrences: int = 1
    last_occurrence_at: datetime = Field(sa_type=UtcDateTime)
    idempotency_key: str = Field(unique=True)
    assignee_id: str | None = None
    root_cause: str | None = None
    closing_summary: str | None = Field(default=None, sa_type=sa.Text)
    version: int = 1


class IncidentEventRow(SQLModel, table=True):
    """One timeline entry of an incident."""

    __tablename__ = "incident_events"
    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True)
    at: datetime = Field(sa_type=UtcDateTime)
    kind: str
    details_json: str = Field(sa_type=sa.Text)
    actor_id: str | None = None
    idempotency_key: str | None = Field(default=None, unique=True)


class IncidentSampleRow(SQLModel, table=True):
    """One evidence position of an incident."""

    __tablename__ = "incident_samples"
    __table_args__ = (sa.Index("ix_incident_samples_incident_t", "incident_id", "t_s"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    incident_id: int = Field(foreign_key="incidents.id")
    t_s: float
    lat_deg: float
    lon_deg: float
    alt_amsl_m: float
    rel_alt_m: float
    vn_mps: float
    ve_mps: float
    vd_mps: float
    heading_deg: float | None = None
    state: str
    phase: str


class IncidentFrameRow(SQLModel, table=True):
    """One raw MAVLink frame of an incident's evidence window."""

    __tablename__ = "incident_frames"
    __table_args__ = (sa.Index("ix_incident_frames_incident_t", "incident_id", "t_s"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    incident_id: int = Field(foreign_key="incidents.id")
    t_s: float
    raw: bytes


# --- rows back to domain values ------------------------------------------------


def incident_from_row(row: IncidentRow) -> Incident:
    """Return the domain incident stored in ``row``."""
    if row.id is None:
        raise ValueError("incident row has no id; flush it first")
    volume = json.loads(row.volume_json) if row.volume_json else None
    return Incident(
        id=IncidentId(row.id),
        site_id=SiteId(row.site_id),
        kind=IncidentKind(row.kind),
        severity=Severity(row.severity),
        state=IncidentState(row.state),
        opened_at=as_utc(row.opened_at),
        updated_at=as_utc(row.updated_at),
        closed_at=as_utc_or_none(row.closed_at),
        vehicle_key=row.vehicle_key,
        sysid=row.sysid,
        drone_id=DroneId(row.drone_id) if row.drone_id else None,
        operator_id=OperatorId(row.operator_id) if row.operator_id else None,
        booking_id=BookingId(row.booking_id) if row.booking_id is not None else None,
        corridor_id=CorridorId(row.corridor_id) if row.corridor_id else None,
        message=row.message,
        rule=json.loads(row.rule_json),
        volume=VolumeSnapshot.from_dict(volume) if volume else None,
        link=json.loads(row.link_json),
        occurrences=row.occurrences,
        last_occurrence_at=as_utc(row.last_occurrence_at),
        idempotency_key=row.idempotency_key,
        assignee_id=row.assignee_id,
        root_cause=row.root_cause,
        closing_summary=row.closing_summary,
        version=row.version,
    )


def event_from_row(row: IncidentEventRow) -> IncidentEvent:
    """Return the timeline event stored in ``row``."""
    return IncidentEvent(
        id=row.id or 0,
        incident_id=IncidentId(row.incident_id),
        at=as_utc(row.at),
        kind=row.kind,
        details=json.loads(row.details_json),
        actor_id=row.actor_id,
    )


def sample_from_row(row: IncidentSampleRow) -> EvidenceSample:
    """Return the evidence position stored in ``row``."""
    return EvidenceSample(
        t_s=row.t_s,
        lat_deg=row.lat_deg,
        lon_deg=row.lon_deg,
        alt_amsl_m=row.alt_amsl_m,
        rel_alt_m=row.rel_alt_m,
        vn_mps=row.vn_mps,
        ve_mps=row.ve_mps,
        vd_mps=row.vd_mps,
        heading_deg=row.heading_deg,
        state=row.state,
        phase=EvidencePhase(row.phase),
    )
