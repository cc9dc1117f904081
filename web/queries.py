"""Read-side queries for the API, with the visibility rule applied in SQL.

Visibility (``booking.permissions``): operators and pilots see their own organisation's
drones and bookings; safety officers and site admins see everything. List endpoints
filter in the query. A single drone or booking of another organisation is answered
exactly as one that does not exist, 404, for reads and for changes alike, so ids of
other organisations cannot be probed. A resource the caller can see but may not change
is a 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, or_, select

from airspace.site import SiteId
from airspace.volume import TimeWindow
from booking.errors import NotFound
from booking.model import (
    OCCUPYING_STATES,
    Actor,
    Booking,
    BookingState,
    Closure,
    Drone,
)
from booking.permissions import require_visible, visible_operator
from booking.tables import (
    BookingRow,
    ClosureRow,
    DroneRow,
    booking_from_row,
    closure_from_row,
    drone_from_row,
)


def get_drone(session: Session, actor: Actor, drone_id: str) -> Drone:
    """Return the drone if ``actor`` may see it; ``NotFound`` otherwise."""
    row = session.get(DroneRow, drone_id)
    if row is None:
        raise NotFound("drone", drone_id)
    require_visible(actor, row.operator_id, "drone", drone_id)
    return drone_from_row(row)


def list_drones(
    session: Session,
    actor: Actor,
    site_id: str | None = None,
    *,
    limit: int | None = None,
    offset: int = 0,
) -> list[Drone]:
    """Return the drones ``actor`` may see, optionally of one site, by id; at most
    ``limit`` (None: all) after skipping ``offset``."""
    query = select(DroneRow).order_by(col(DroneRow.id))
    only = visible_operator(actor)
    if only is not None:
        query = query.where(DroneRow.operator_id == only)
    if site_id is not None:
        query = query.where(DroneRow.site_id == site_id)
    query = query.offset(offset).limit(limit)
    return [drone_from_row(r) for r in session.exec(query)]


def get_booking(session: Session, actor: Actor, booking_id: int) -> Booking:
    """Return the booking if ``actor`` may see it; ``NotFound`` otherwise."""
    row = session.get(BookingRow, booking_id)
    if row is None:
        raise NotFound("booking", booking_id)
    require_visible(actor, row.operator_id, "booking", booking_id)
    return booking_from_row(row)


@dataclass(frozen=True)
class BookingFilter:
    """Optional filters for listing bookings; ``start``/``end`` select windows that
    overlap ``[start, end)``."""

    site_id: str | None = None
    pad_id: str | None = None
    corridor_id: str | None = None
    drone_id: str | None = None
    operator_id: str | None = None
    state: BookingState | None = None
    start: datetime | None = None
    end: datetime | None = None


def list_bookings(
    session: Session,
    actor: Actor,
    f: BookingFilter,
    *,
    limit: int = 1000,
    offset: int = 0,
) -> list[Booking]:
    """Return the bookings ``actor`` may see that match ``f``, by start time."""
    query = select(BookingRow).order_by(col(BookingRow.start_utc), col(BookingRow.id))
    only = visible_operator(actor)
    if only is not None:
        query = query.where(BookingRow.operator_id == only)
    if f.site_id is not None:
        query = query.where(BookingRow.site_id == f.site_id)
    if f.pad_id is not None:
        query = query.where(
            or_(
                col(BookingRow.takeoff_pad_id) == f.pad_id,
                col(BookingRow.landing_pad_id) == f.pad_id,
            )
        )
    if f.corridor_id is not None:
        query = query.where(BookingRow.corridor_id == f.corridor_id)
    if f.drone_id is not None:
        query = query.where(BookingRow.drone_id == f.drone_id)
    if f.operator_id is not None:
        query = query.where(BookingRow.operator_id == f.operator_id)
    if f.state is not None:
        query = query.where(BookingRow.state == str(f.state))
    # SQLite stores UTC without an offset: compare in UTC.
    if f.start is not None:
        query = query.where(col(BookingRow.end_utc) > f.start.astimezone(UTC))
    if f.end is not None:
        query = query.where(col(BookingRow.start_utc) < f.end.astimezone(UTC))
    rows = session.exec(query.offset(offset).limit(limit))
    return [booking_from_row(r) for r in rows]


def occupying_bookings(
    session: Session, site_id: SiteId, window: TimeWindow
) -> list[Booking]:
    """Return the site's pending/approved/active bookings overlapping ``window``."""
    rows = session.exec(
        select(BookingRow).where(
            BookingRow.site_id == site_id,
            col(BookingRow.state).in_([str(s) for s in OCCUPYING_STATES]),
            col(BookingRow.start_utc) < window.end.astimezone(UTC),
            col(BookingRow.end_utc) > window.start.astimezone(UTC),
        )
    )
    return [booking_from_row(r) for r in rows]


def list_closures(
    session: Session,
    site_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    limit: int | None = None,
    offset: int = 0,
) -> list[Closure]:
    """Return closures, optionally of one site and overlapping ``[start, end)``;
    at most ``limit`` (None: all) after skipping ``offset``."""
    query = select(ClosureRow).order_by(col(ClosureRow.start_utc), col(ClosureRow.id))
    if site_id is not None:
        query = query.where(ClosureRow.site_id == site_id)
    if start is not None:
        query = query.where(col(ClosureRow.end_utc) > start.astimezone(UTC))
    if end is not None:
        query = query.where(col(ClosureRow.start_utc) < end.astimezone(UTC))
    query = query.offset(offset).limit(limit)
    return [closure_from_row(r) for r in session.exec(query)]


def get_closure(session: Session, closure_id: int) -> Closure:
    """Return the closure; ``NotFound`` when there is none."""
    row = session.get(ClosureRow, closure_id)
    if row is None:
        raise NotFound("closure", closure_id)
    return closure_from_row(row)
