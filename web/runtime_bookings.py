"""The booking side of the live runtime: booking frames, and what a change reloads.

Every committed booking event (approval, cancellation, a closure bumping a booking,
a booking still active in a new closure) becomes a live-stream ``booking`` frame
carrying the booking as ``GET /api/v1/bookings/{id}`` shows it, so pages replace
their copy with the frame's. Only a change to what the gateway flies by (a booking
becoming flyable, or stopping being so) reloads its fleet directory. Part of
``web.telemetry_runtime``, which subscribes to the ``EventLog``, hands the frames
from the committing thread to the loop and owns the directory reload.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from booking.model import (
    ActiveBookingInClosure,
    BookingBumped,
    BookingStateChanged,
    DomainEvent,
)
from telemetry.live.frames import utc_iso
from web.schemas import BookingPublic

FLYABLE = frozenset({"approved", "active"})

Publish = Callable[[Mapping[str, Any], str | None], None]
"""Announces a must-keep frame to every viewer (``TelemetryRuntime.publish``)."""

EventFrame = tuple[dict[str, Any], DomainEvent]
"""A booking event and the ``booking`` frame built from it."""


def event_frames(events: Sequence[DomainEvent]) -> list[EventFrame]:
    """Return each event with its ``booking`` frame, built from the booking the
    event carries as the commit stored it (call in the committing thread)."""
    return [(booking_frame(e, _booking_view(e)), e) for e in events]


def publish_event_frames(frames: Sequence[EventFrame], publish: Publish) -> bool:
    """Publish each frame to the viewers of its operator; return whether one of
    the events changed what the gateway flies by (its directory must reload)."""
    for frame, event in frames:
        publish(frame, event.operator_id)
    # Reload only when what the gateway flies by changed: a burst of new
    # pending bookings must not reload the directory once each.
    return any(_changes_directory(event) for _, event in frames)


def _booking_view(event: DomainEvent) -> dict[str, Any]:
    """The event's booking as ``GET /api/v1/bookings/{id}`` shows it."""
    return BookingPublic.of(event.booking).model_dump(mode="json")


def _changes_directory(event: DomainEvent) -> bool:
    """True when the event makes a booking flyable or stops it being so."""
    if isinstance(event, BookingStateChanged):
        # approved -> active (a drone taking off) leaves it flyable: a fleet taking
        # off must not reload the directory once per drone.
        return (str(event.to_state) in FLYABLE) != (str(event.from_state) in FLYABLE)
    return True


def booking_frame(
    event: DomainEvent, booking_view: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The live-stream ``booking`` frame for a committed booking event, carrying the
    whole booking (as ``GET /api/v1/bookings/{id}`` shows it) when known."""
    booking: dict[str, Any] = (
        dict(booking_view)
        if booking_view
        else {
            "id": event.booking_id,
            "site_id": event.site_id,
            "operator_id": event.operator_id,
            "drone_id": event.drone_id,
        }
    )
    match event:
        case BookingStateChanged():
            booking["state"] = str(event.to_state)
            return {
                "type": "booking",
                "change": "state_changed",
                "booking": booking,
                "from_state": str(event.from_state) if event.from_state else None,
                "t_utc": utc_iso(event.at.timestamp()),
            }
        case BookingBumped():
            booking["state"] = "bumped"
            booking.setdefault("start", utc_iso(event.window.start.timestamp()))
            booking.setdefault("end", utc_iso(event.window.end.timestamp()))
            return {
                "type": "booking",
                "change": "bumped",
                "booking": booking,
                "closure_id": event.closure_id,
                "reason": event.reason,
                "t_utc": utc_iso(event.at.timestamp()),
            }
        case ActiveBookingInClosure():
            return {
                "type": "booking",
                "change": "active_in_closure",
                "booking": booking,
                "closure_id": event.closure_id,
                "t_utc": utc_iso(event.at.timestamp()),
            }
