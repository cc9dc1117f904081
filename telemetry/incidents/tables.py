"""The incident tables: incidents, their timeline events and their evidence rows.

``incidents``, ``incident_events`` (the timeline), ``incident_samples`` and
``incident_frames`` (the evidence window), created only by the Alembic migration
``0002``. The repository (``telemetry.incidents.repository``) and the incident
service (``telemetry.incidents.service``) read and write them; reports may query
them directly.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

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
