"""Bookings as an iCalendar feed (RFC 5545) for calendar apps."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from icalendar import Calendar, Event

from booking.model import Booking, BookingState

PRODID = "-//SkyBerth//Bookings//EN"

_STATUS = {
    BookingState.PENDING: "TENTATIVE",
    BookingState.APPROVED: "CONFIRMED",
    BookingState.ACTIVE: "CONFIRMED",
    BookingState.COMPLETED: "CONFIRMED",
    BookingState.REJECTED: "CANCELLED",
    BookingState.CANCELLED: "CANCELLED",
    BookingState.BUMPED: "CANCELLED",
}


def booking_summary(b: Booking) -> str:
    """Return ``Drone d1: pads P1→P2, corridor C1 (approved)``-style text."""
    parts = []
    if len(b.pad_ids) == 1:
        parts.append(f"pad {b.pad_ids[0]}")
    elif b.pad_ids:
        parts.append(f"pads {'→'.join(b.pad_ids)}")
    if b.corridor_id:
        parts.append(f"corridor {b.corridor_id}")
    return f"Drone {b.drone_id}: {', '.join(parts)} ({b.state})"


def bookings_calendar(bookings: Iterable[Booking], now: datetime) -> bytes:
    """Return ``bookings`` as an iCalendar document, one VEVENT each, times in UTC.

    ``now`` (aware UTC) becomes every event's DTSTAMP.
    """
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "SkyBerth bookings")
    for b in bookings:
        event = Event()
        event.add("uid", f"booking-{b.id}@{b.site_id}.skyberth")
        event.add("dtstamp", now)
        event.add("dtstart", b.window.start)
        event.add("dtend", b.window.end)
        event.add("summary", booking_summary(b))
        event.add("status", _STATUS[b.state])
        event.add("sequence", b.version)
        event.add(
            "description",
            f"Booking {b.id} at site {b.site_id} for operator {b.operator_id}, "
            f"requested by {b.requested_by}; state {b.state}.",
        )
        cal.add_component(event)
    ical: bytes = cal.to_ical()
    return ical
