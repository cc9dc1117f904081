"""Loads the gateway's ``FleetDirectory`` from the booking tables, and the active
bookings whose window has ended (for the runtime to complete).

Runs in a worker thread (it is a few small SELECTs); the telemetry runtime calls it
every few seconds and right after any booking or closure change.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from airspace.utc import as_utc
from booking.model import ClosedArea
from booking.tables import BookingRow, ClosureRow, DroneRow, closure_from_row
from telemetry.live.fleet import AreaClosure, BookingEntry, DroneEntry, FleetDirectory

FLYABLE_STATES = ("approved", "active")
LOOKAHEAD = timedelta(hours=6)
"""Bookings starting within this horizon are loaded, so none is missed between
two refreshes."""


def load_fleet_directory(engine: Engine, now: datetime) -> FleetDirectory:
    """Every drone, the flyable bookings around ``now`` and the area closures."""
    with Session(engine) as session:
        # Columns, not ORM objects: a big fleet reloads this after every booking
        # change, and building thousands of instances cost more than the query.
        drone_rows = session.execute(
            sa.select(
                col(DroneRow.id),
                col(DroneRow.name),
                col(DroneRow.site_id),
                col(DroneRow.operator_id),
                col(DroneRow.mavlink_sysid),
                col(DroneRow.signing_key),
            )
        )
        drones = tuple(
            DroneEntry(
                drone_id=drone_id,
                name=name,
                site_id=site_id,
                operator_id=operator_id,
                sysid=sysid,
                signing_key=signing_key,
            )
            for drone_id, name, site_id, operator_id, sysid, signing_key in drone_rows
        )
        booking_rows = session.execute(
            sa.select(
                col(BookingRow.id),
                col(BookingRow.drone_id),
                col(BookingRow.site_id),
                col(BookingRow.operator_id),
                col(BookingRow.corridor_id),
                col(BookingRow.start_utc),
                col(BookingRow.end_utc),
                col(BookingRow.state),
                col(BookingRow.takeoff_pad_id),
                col(BookingRow.landing_pad_id),
            )
            .where(col(BookingRow.state).in_(FLYABLE_STATES))
            .where(col(BookingRow.end_utc) > now)
            .where(col(BookingRow.start_utc) < now + LOOKAHEAD)
        )
        bookings = tuple(
            BookingEntry(
                booking_id=booking_id,
                drone_id=drone_id,
                site_id=site_id,
                operator_id=operator_id,
                corridor_id=corridor_id,
                start_s=as_utc(start_utc).timestamp(),
                end_s=as_utc(end_utc).timestamp(),
                state=state,
                takeoff_pad_id=takeoff_pad_id,
                landing_pad_id=landing_pad_id,
            )
            for (
                booking_id,
                drone_id,
                site_id,
                operator_id,
                corridor_id,
                start_utc,
                end_utc,
                state,
                takeoff_pad_id,
                landing_pad_id,
            ) in booking_rows
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


def ended_active_bookings(engine: Engine, now: datetime) -> list[int]:
    """Ids of the bookings still ``active`` whose window ended by ``now`` (UTC)."""
    with Session(engine) as session:
        rows = session.execute(
            sa.select(col(BookingRow.id))
            .where(col(BookingRow.state) == "active")
            .where(col(BookingRow.end_utc) <= now)
            .order_by(col(BookingRow.id))
        )
        return [int(booking_id) for (booking_id,) in rows]
