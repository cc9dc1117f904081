"""Loads the gateway's ``FleetDirectory`` from the booking tables.

Runs in a worker thread (it is a few small SELECTs); the telemetry runtime calls it
every few seconds and right after any booking or closure change.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from booking.model import ClosedArea
from booking.store import BookingRow, ClosureRow, DroneRow, closure_from_row
from telemetry.fleet import AreaClosure, BookingEntry, DroneEntry, FleetDirectory

FLYABLE_STATES = ("approved", "active")
LOOKAHEAD = timedelta(hours=6)
"""Bookings starting within this horizon are loaded, so none is missed between
two refreshes."""


def load_fleet_directory(engine: Engine, now: datetime) -> FleetDirectory:
    """Every drone, the flyable bookings around ``now`` and the area closures."""
    with Session(engine) as session:
        drones = tuple(
            DroneEntry(
                drone_id=row.id,
                name=row.name,
                site_id=row.site_id,
                operator_id=row.operator_id,
                sysid=row.mavlink_sysid,
                signing_key=row.signing_key,
            )
            for row in session.exec(select(DroneRow))
        )
        booking_rows = session.exec(
            select(BookingRow)
            .where(col(BookingRow.state).in_(FLYABLE_STATES))
            .where(col(BookingRow.end_utc) > now)
            .where(col(BookingRow.start_utc) < now + LOOKAHEAD)
        )
        bookings = tuple(
            BookingEntry(
                booking_id=row.id,
                drone_id=row.drone_id,
                site_id=row.site_id,
                operator_id=row.operator_id,
                corridor_id=row.corridor_id,
                start_s=_utc(row.start_utc).timestamp(),
                end_s=_utc(row.end_utc).timestamp(),
                state=row.state,
                takeoff_pad_id=row.takeoff_pad_id,
                landing_pad_id=row.landing_pad_id,
            )
            for row in booking_rows
        )
        closure_rows = session.exec(
            select(ClosureRow)
            .where(col(ClosureRow.target_kind) == "area")
            .where(col(ClosureRow.end_utc) > now)
            .where(col(ClosureRow.start_utc) < now + LOOKAHEAD)
        )
        closures = []
        for row in closure_rows:
            closure = closure_from_row(row)
            if isinstance(closure.target, ClosedArea):
                closures.append(
                    AreaClosure(
                        closure_id=closure.id,
                        site_id=closure.site_id,
                        volume=closure.target.volume,
                        start_s=closure.window.start.timestamp(),
                        end_s=closure.window.end.timestamp(),
                    )
                )
    return FleetDirectory(drones, bookings, tuple(closures))


def _utc(t: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
