"""The booking tables (SQLModel) and the mapping between their rows and the domain.

The domain objects stay plain dataclasses (``booking.model``); this module declares
the rows that store them and converts both ways. Importing it registers every
booking table on ``SQLModel.metadata`` (migrations, ``booking.repositories``).

Times are stored as UTC and always returned timezone-aware (``airspace.utc``).
Audit rows are append-only: the migration installs triggers that refuse UPDATE and
DELETE.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import shapely
import sqlalchemy as sa
from shapely.geometry import Polygon
from sqlmodel import Field, SQLModel

from airspace.site import CorridorId, PadId, SiteId
from airspace.utc import as_utc
from airspace.volume import TimeWindow, Volume
from booking.model import (
    Booking,
    BookingId,
    BookingState,
    ClosedArea,
    ClosedCorridor,
    ClosedPad,
    Closure,
    ClosureId,
    Drone,
    DroneId,
    OperatorId,
    Role,
    User,
    UserId,
    ZoneOrigin,
)
from booking.registration import CadRegistration, Registration, UasCategory

UtcDateTime = sa.DateTime(timezone=True)


class OperatorRow(SQLModel, table=True):
    """An operator organisation."""

    __tablename__ = "operators"
    id: str = Field(primary_key=True)
    name: str


class UserRow(SQLModel, table=True):
    """A user and their argon2 password hash."""

    __tablename__ = "users"
    id: str = Field(primary_key=True)
    username: str = Field(unique=True, index=True)
    password_hash: str
    role: str
    operator_id: str | None = Field(default=None, foreign_key="operators.id")
    created_at: datetime = Field(sa_type=UtcDateTime)
    disabled: bool = Field(
        default=False, sa_column_kwargs={"server_default": sa.false()}
    )
    token_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    language: str | None = None
    """The user's chosen page language (a BCP 47 tag); None: the browser's."""


class DroneRow(SQLModel, table=True):
    """A registered drone; ``(site_id, mavlink_sysid)`` is unique."""

    __tablename__ = "drones"
    __table_args__ = (sa.UniqueConstraint("site_id", "mavlink_sysid"),)
    id: str = Field(primary_key=True)
    name: str
    site_id: str = Field(index=True)
    operator_id: str = Field(foreign_key="operators.id", index=True)
    mavlink_sysid: int
    max_takeoff_mass_kg: float
    signing_key: bytes | None = None
    # Hong Kong CAD registration (booking.registration); all optional.
    registration_mark: str | None = None
    registration_valid_until: date | None = None
    serial_number: str | None = None
    uas_category: str | None = None
    operator_registration: str | None = None
    operator_registration_valid_until: date | None = None
    remote_pilot_registration: str | None = None
    remote_pilot_valid_until: date | None = None


class BookingRow(SQLModel, table=True):
    """A booking of pads and/or a corridor for a window."""

    __tablename__ = "bookings"
    __table_args__ = (sa.Index("ix_bookings_site_window", "site_id", "start_utc"),)
    id: int = Field(primary_key=True)
    site_id: str
    drone_id: str = Field(foreign_key="drones.id", index=True)
    operator_id: str = Field(foreign_key="operators.id", index=True)
    requested_by: str
    start_utc: datetime = Field(sa_type=UtcDateTime)
    end_utc: datetime = Field(sa_type=UtcDateTime)
    takeoff_pad_id: str | None = None
    landing_pad_id: str | None = None
    corridor_id: str | None = None
    state: str = Field(index=True)
    created_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    version: int = 0


class PadSlotRow(SQLModel, table=True):
    """A pad held by an occupying booking over ``[start, end + turnaround)``.

    Two bookings conflict on a pad exactly when these padded ranges overlap, so on
    PostgreSQL an exclusion constraint over them is the database's own guarantee.
    """

    __tablename__ = "pad_slots"
    id: int | None = Field(default=None, primary_key=True)
    booking_id: int = Field(foreign_key="bookings.id", index=True)
    site_id: str
    pad_id: str
    start_utc: datetime = Field(sa_type=UtcDateTime)
    end_utc: datetime = Field(sa_type=UtcDateTime)


class ClosureRow(SQLModel, table=True):
    """A closure of a pad, a corridor or an area (WKT in site metres + band)."""

    __tablename__ = "closures"
    __table_args__ = (
        sa.Index(
            "ux_closures_origin", "site_id", "source", "source_zone_id", unique=True
        ),
    )
    id: int = Field(primary_key=True)
    site_id: str = Field(index=True)
    target_kind: str
    target_id: str | None = None
    area_wkt: str | None = None
    floor_amsl_m: float | None = None
    ceiling_amsl_m: float | None = None
    start_utc: datetime = Field(sa_type=UtcDateTime)
    end_utc: datetime = Field(sa_type=UtcDateTime)
    reason: str
    created_by: str
    created_at: datetime = Field(sa_type=UtcDateTime)
    source: str | None = None
    """Imported official zones: the file or provider they came from."""
    source_zone_id: str | None = None
    """Imported official zones: the zone's identifier in its source."""


class AuditRow(SQLModel, table=True):
    """One append-only audit record."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UtcDateTime, index=True)
    actor_id: str
    actor_role: str
    action: str = Field(index=True)
    subject_kind: str
    subject_id: str
    before_json: str | None = None
    after_json: str | None = None
    note: str = ""
    # The hash chain (booking.audit_chain); unique so the chain cannot fork.
    prev_hash: str | None = Field(default=None, sa_type=sa.String(64))
    hash: str | None = Field(default=None, sa_type=sa.String(64))
    chain_version: int | None = None
    """None: unkeyed SHA-256 (before migration 0005); 2: HMAC under the audit key."""
    __table_args__ = (sa.Index("ux_audit_log_prev_hash", "prev_hash", unique=True),)


class IdCounterRow(SQLModel, table=True):
    """Named integers the store keeps in step with its writes: id counters for rows
    whose id the domain needs before inserting, and each site's longest booking
    (``booking_span_s:<site>``, see ``SqlBookings.for_update``)."""

    __tablename__ = "id_counters"
    name: str = Field(primary_key=True)
    value: int = 0


# --- mapping ------------------------------------------------------------------


def booking_from_row(row: BookingRow | sa.Row[Any]) -> Booking:
    """Return the domain booking stored in ``row`` (an ORM row or a Core row)."""
    return Booking(
        id=BookingId(row.id),
        site_id=SiteId(row.site_id),
        drone_id=DroneId(row.drone_id),
        operator_id=OperatorId(row.operator_id),
        requested_by=UserId(row.requested_by),
        window=TimeWindow(as_utc(row.start_utc), as_utc(row.end_utc)),
        takeoff_pad_id=PadId(row.takeoff_pad_id) if row.takeoff_pad_id else None,
        landing_pad_id=PadId(row.landing_pad_id) if row.landing_pad_id else None,
        corridor_id=CorridorId(row.corridor_id) if row.corridor_id else None,
        state=BookingState(row.state),
        created_at=as_utc(row.created_at) if row.created_at else None,
        version=row.version,
    )


BOOKING_COLUMNS = (
    "site_id",
    "drone_id",
    "operator_id",
    "requested_by",
    "start_utc",
    "end_utc",
    "takeoff_pad_id",
    "landing_pad_id",
    "corridor_id",
    "state",
    "created_at",
    "version",
)


def booking_values(b: Booking) -> dict[str, Any]:
    """Return the stored columns of ``b`` but its id (``BOOKING_COLUMNS``)."""
    return {
        "site_id": b.site_id,
        "drone_id": b.drone_id,
        "operator_id": b.operator_id,
        "requested_by": b.requested_by,
        "start_utc": b.window.start,
        "end_utc": b.window.end,
        "takeoff_pad_id": b.takeoff_pad_id,
        "landing_pad_id": b.landing_pad_id,
        "corridor_id": b.corridor_id,
        "state": str(b.state),
        "created_at": b.created_at,
        "version": b.version,
    }


def drone_from_row(row: DroneRow | sa.Row[Any]) -> Drone:
    """Return the domain drone stored in ``row`` (an ORM row or a Core row)."""
    return Drone(
        id=DroneId(row.id),
        name=row.name,
        site_id=SiteId(row.site_id),
        operator_id=OperatorId(row.operator_id),
        mavlink_sysid=row.mavlink_sysid,
        max_takeoff_mass_kg=row.max_takeoff_mass_kg,
        signing_key=row.signing_key,
        cad=CadRegistration(
            registration_mark=_registration(
                row.registration_mark, row.registration_valid_until
            ),
            serial_number=row.serial_number,
            category=UasCategory(row.uas_category) if row.uas_category else None,
            operator=_registration(
                row.operator_registration, row.operator_registration_valid_until
            ),
            remote_pilot=_registration(
                row.remote_pilot_registration, row.remote_pilot_valid_until
            ),
        ),
    )


def _registration(number: str | None, valid_until: date | None) -> Registration | None:
    return Registration(number, valid_until) if number else None


def drone_registration_columns(drone: Drone) -> dict[str, Any]:
    """Return the CAD registration columns of ``drone``'s row."""
    cad = drone.cad

    def number(r: Registration | None) -> str | None:
        return r.number if r else None

    def until(r: Registration | None) -> date | None:
        return r.valid_until if r else None

    return {
        "registration_mark": number(cad.registration_mark),
        "registration_valid_until": until(cad.registration_mark),
        "serial_number": cad.serial_number,
        "uas_category": str(cad.category) if cad.category else None,
        "operator_registration": number(cad.operator),
        "operator_registration_valid_until": until(cad.operator),
        "remote_pilot_registration": number(cad.remote_pilot),
        "remote_pilot_valid_until": until(cad.remote_pilot),
    }


def closure_from_row(row: ClosureRow | sa.Row[Any]) -> Closure:
    """Return the domain closure stored in ``row`` (an ORM row or a Core row)."""
    target: ClosedPad | ClosedCorridor | ClosedArea
    if row.target_kind == "pad" and row.target_id:
        target = ClosedPad(PadId(row.target_id))
    elif row.target_kind == "corridor" and row.target_id:
        target = ClosedCorridor(CorridorId(row.target_id))
    else:
        outline = shapely.from_wkt(row.area_wkt or "")
        if not isinstance(outline, Polygon):
            raise ValueError(f"closure {row.id}: stored area is not a polygon")
        target = ClosedArea(
            Volume(outline, row.floor_amsl_m or 0.0, row.ceiling_amsl_m or 0.0)
        )
    return Closure(
        id=ClosureId(row.id),
        site_id=SiteId(row.site_id),
        target=target,
        window=TimeWindow(as_utc(row.start_utc), as_utc(row.end_utc)),
        reason=row.reason,
        created_by=UserId(row.created_by),
        created_at=as_utc(row.created_at),
        origin=ZoneOrigin(row.source, row.source_zone_id)
        if row.source and row.source_zone_id
        else None,
    )


def closure_to_row(c: Closure) -> ClosureRow:
    """Return the row that stores closure ``c``."""
    row = ClosureRow(
        id=c.id,
        site_id=c.site_id,
        target_kind="area",
        start_utc=c.window.start,
        end_utc=c.window.end,
        reason=c.reason,
        created_by=c.created_by,
        created_at=c.created_at,
        source=c.origin.source if c.origin else None,
        source_zone_id=c.origin.zone_id if c.origin else None,
    )
    match c.target:
        case ClosedPad(pad_id):
            row.target_kind, row.target_id = "pad", pad_id
        case ClosedCorridor(corridor_id):
            row.target_kind, row.target_id = "corridor", corridor_id
        case ClosedArea(volume):
            row.area_wkt = shapely.to_wkt(volume.outline, rounding_precision=-1)
            row.floor_amsl_m = volume.floor_amsl_m
            row.ceiling_amsl_m = volume.ceiling_amsl_m
    return row


def user_from_row(row: UserRow | sa.Row[Any]) -> User:
    """Return the domain user stored in ``row`` (an ORM row or a Core row)."""
    return User(
        id=UserId(row.id),
        name=row.username,
        role=Role(row.role),
        operator_id=OperatorId(row.operator_id) if row.operator_id else None,
        disabled=bool(row.disabled),
        token_version=int(row.token_version),
    )
