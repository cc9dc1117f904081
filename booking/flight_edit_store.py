"""Flight overrides in the database: ``flight_edits`` (Alembic ``0008_flight_edits``).

Append-only: an override is never changed or deleted, a correction of it is a
new override (a merge at a split's time undoes the split), so the record of what
the operator said stays whole. ``SqlFlightEdits`` works on the caller's
transaction (the unit of work's session).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, select

from airspace.utc import as_utc
from booking.flight_edits import FlightEdit, FlightEditKind, StoredFlightEdit
from booking.tables import UtcDateTime


class FlightEditRow(SQLModel, table=True):
    """One override of a booking's detected flights."""

    __tablename__ = "flight_edits"
    __table_args__ = (sa.Index("ix_flight_edits_booking", "booking_id"),)
    id: int | None = Field(default=None, primary_key=True)
    booking_id: int = Field(foreign_key="bookings.id")
    kind: str
    at_utc: datetime = Field(sa_type=UtcDateTime)
    reason: str
    edited_by: str
    edited_at: datetime = Field(sa_type=UtcDateTime)


def _stored(row: FlightEditRow, number: int) -> StoredFlightEdit:
    edit = FlightEdit(FlightEditKind(row.kind), as_utc(row.at_utc), row.reason)
    return StoredFlightEdit(
        row.booking_id, number, edit, row.edited_by, as_utc(row.edited_at)
    )


class SqlFlightEdits:
    """The flight overrides of bookings, on one session (transaction)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self, booking_id: int, edit: FlightEdit, edited_by: str, at: datetime
    ) -> StoredFlightEdit:
        """Store an override; return it with its number."""
        row = FlightEditRow(
            booking_id=booking_id,
            kind=edit.kind.value,
            at_utc=edit.at_utc,
            reason=edit.reason,
            edited_by=edited_by,
            edited_at=at,
        )
        self._session.add(row)
        self._session.flush()
        count = self._session.exec(
            select(sa.func.count())
            .select_from(FlightEditRow)
            .where(FlightEditRow.booking_id == booking_id)
        ).one()
        return _stored(row, int(count))

    def of_booking(self, booking_id: int) -> list[StoredFlightEdit]:
        """Return the booking's overrides, oldest first (the order they apply)."""
        rows = self._session.exec(
            select(FlightEditRow)
            .where(FlightEditRow.booking_id == booking_id)
            .order_by(col(FlightEditRow.id))
        ).all()
        return [_stored(r, n) for n, r in enumerate(rows, start=1)]
