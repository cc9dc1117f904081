"""The operator's corrections to a booking's detected flights: values and rules.

Flights are computed from the recording each time (``telemetry.flights``); what
is stored is the operator's *override*: split the flight flying at a time, or
merge the flight started by a time with the next, each with a reason. They are
applied in the order made (``telemetry.flights.edits``), so a later merge at a
split's time undoes the split and both stay on record.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from airspace.utc import as_utc
from booking.errors import BookingRuleViolation, Rule

MAX_REASON_CHARS = 500


class FlightEditKind(enum.StrEnum):
    """Split one detected flight in two, or merge one with the next."""

    SPLIT = "split"
    MERGE = "merge"


@dataclass(frozen=True)
class FlightEdit:
    """One override as asked: its kind, the time it applies at, and why."""

    kind: FlightEditKind
    at_utc: datetime
    reason: str


@dataclass(frozen=True)
class StoredFlightEdit:
    """An override as stored: ``number`` 1 is the booking's first."""

    booking_id: int
    number: int
    edit: FlightEdit
    edited_by: str
    edited_at: datetime


class FlightEditRepository(Protocol):
    """Where flight overrides are kept (``booking.flight_edit_store``)."""

    def add(
        self, booking_id: int, edit: FlightEdit, edited_by: str, at: datetime
    ) -> StoredFlightEdit:
        """Store an override; return it with its number."""

    def of_booking(self, booking_id: int) -> list[StoredFlightEdit]:
        """Return the booking's overrides, oldest first (the order they apply)."""


def _refuse(message: str) -> BookingRuleViolation:
    return BookingRuleViolation(Rule.FLIGHT_EDIT, message)


def flight_edit_from(body: Mapping[str, Any]) -> FlightEdit:
    """Return the override in a request body, or refuse naming the field."""
    try:
        kind = FlightEditKind(str(body.get("kind")))
    except ValueError:
        raise _refuse(
            f"flight edit kind must be one of {[k.value for k in FlightEditKind]}"
        ) from None
    at = body.get("at_utc")
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at)
        except ValueError:
            raise _refuse(f"flight edit at_utc {at!r} is not an ISO time") from None
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise _refuse("flight edit at_utc must be an ISO time with its UTC offset")
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise _refuse("flight edit needs a reason")
    if len(reason) > MAX_REASON_CHARS:
        raise _refuse(f"flight edit reason is over {MAX_REASON_CHARS} characters")
    return FlightEdit(kind, as_utc(at), reason.strip())
