"""Flight forms in the database: each submission kept, the newest one counts.

``flight_forms`` (Alembic ``0007_flight_records``) holds every pre- and post-flight
form submitted for a booking, as JSON with who sent it and when; a corrected form
is a new row, so what was stated first is never overwritten (the audit trail says
who changed it). ``SqlFlightForms`` works on the caller's transaction (the unit
of work's session).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, select

from airspace.utc import as_utc
from booking.flight_forms import FormKind, StoredForm
from booking.tables import UtcDateTime


class FlightFormRow(SQLModel, table=True):
    """One submitted flight form."""

    __tablename__ = "flight_forms"
    __table_args__ = (sa.Index("ix_flight_forms_booking", "booking_id", "kind"),)
    id: int | None = Field(default=None, primary_key=True)
    booking_id: int = Field(foreign_key="bookings.id")
    kind: str
    body: str
    """The form as JSON (``booking.flight_forms.form_body``)."""
    submitted_by: str
    submitted_at: datetime = Field(sa_type=UtcDateTime)


class SqlFlightForms:
    """The flight forms of bookings, on one session (transaction)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(
        self,
        booking_id: int,
        kind: FormKind,
        body: dict[str, Any],
        submitted_by: str,
        at: datetime,
    ) -> StoredForm:
        """Store a submission; return it with its version."""
        row = FlightFormRow(
            booking_id=booking_id,
            kind=kind.value,
            body=json.dumps(body, sort_keys=True),
            submitted_by=submitted_by,
            submitted_at=at,
        )
        self._session.add(row)
        self._session.flush()
        versions = self._session.exec(
            select(sa.func.count())
            .select_from(FlightFormRow)
            .where(FlightFormRow.booking_id == booking_id)
            .where(FlightFormRow.kind == kind.value)
        ).one()
        return StoredForm(
            booking_id, kind, body, submitted_by, as_utc(at), int(versions)
        )

    def latest(self, booking_id: int) -> dict[FormKind, StoredForm]:
        """Return the newest form of each kind submitted for the booking."""
        rows = self._session.exec(
            select(FlightFormRow)
            .where(FlightFormRow.booking_id == booking_id)
            .order_by(col(FlightFormRow.id))
        ).all()
        out: dict[FormKind, StoredForm] = {}
        counts: dict[FormKind, int] = {}
        for r in rows:
            kind = FormKind(r.kind)
            counts[kind] = counts.get(kind, 0) + 1
            out[kind] = StoredForm(
                r.booking_id,
                kind,
                json.loads(r.body),
                r.submitted_by,
                as_utc(r.submitted_at),
                counts[kind],
            )
        return out
