"""Recording and reading the operator's flight overrides: one unit of work each.

``record_edit`` lets the booking's operators (and site admins) split or merge its
flights with a reason: checked (``booking.flight_edits``), stored and audited as
``flight_edit.split`` / ``flight_edit.merge`` on the booking, in one
transaction. Pilots and safety officers read them (``edits_of``): the flights
everyone sees are the edited ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from booking.errors import NotFound
from booking.flight_edits import FlightEdit, FlightEditRepository, StoredFlightEdit
from booking.model import Actor, AuditEntry, Booking, BookingId, Role
from booking.permissions import require_organisation, require_visible
from booking.ports import UnitOfWork

EDITOR_ROLES = frozenset({Role.OPERATOR})
"""Who corrects the flights: the organisation's operators (site admins too)."""


class FlightEditsUnitOfWork(UnitOfWork, Protocol):
    """A unit of work that also holds the flight overrides."""

    @property
    def flight_edits(self) -> FlightEditRepository: ...


def _booking(uow: UnitOfWork, booking_id: BookingId) -> Booking:
    booking = uow.bookings.get(booking_id)
    if booking is None:
        raise NotFound("booking", booking_id)
    return booking


def record_edit(
    uow: FlightEditsUnitOfWork,
    booking_id: BookingId,
    edit: FlightEdit,
    actor: Actor,
    now: datetime,
) -> StoredFlightEdit:
    """Return the override stored for the booking after checking and auditing."""
    with uow:
        booking = _booking(uow, booking_id)
        require_visible(actor, booking.operator_id, "booking", booking_id)
        require_organisation(
            actor,
            booking.operator_id,
            f"{edit.kind} flights of booking {booking_id}",
            roles=EDITOR_ROLES,
            booking_ids=[booking_id],
        )
        stored = uow.flight_edits.add(booking_id, edit, actor.user_id, now)
        uow.audit.append(
            AuditEntry(
                now,
                actor.user_id,
                actor.role,
                f"flight_edit.{edit.kind}",
                "booking",
                str(booking_id),
                None,
                {"at_utc": edit.at_utc.isoformat(), "reason": edit.reason},
                edit.reason,
            )
        )
        uow.commit()
        return stored


def edits_of(
    uow: FlightEditsUnitOfWork, booking_id: BookingId, actor: Actor
) -> list[StoredFlightEdit]:
    """Return the overrides of a booking ``actor`` may see, oldest first."""
    with uow:
        booking = _booking(uow, booking_id)
        require_visible(actor, booking.operator_id, "booking", booking_id)
        return uow.flight_edits.of_booking(booking_id)
