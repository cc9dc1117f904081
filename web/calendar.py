"""Bookings as an iCalendar feed (RFC 5545) for calendar apps.

The calendar's name and each event's summary and description are for people, so
they are in the reader's language (catalogue keys ``calendar.*``, the booking's
state in its words); uids, statuses and times are the protocol's and never change.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from icalendar import Calendar, Event

from booking.model import Booking, BookingState
from web.i18n.catalogue import translate

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


def _state(language: str, b: Booking) -> str:
    key = f"booking.state.{b.state}"
    text = translate(language, key)
    return str(b.state) if text == key else text


def booking_summary(b: Booking, language: str = "en") -> str:
    """Return ``Drone d1: pads P1→P2, corridor C1 (approved)``-style text."""
    parts = []
    if len(b.pad_ids) == 1:
        parts.append(translate(language, "calendar.pad", pad=b.pad_ids[0]))
    elif b.pad_ids:
        parts.append(translate(language, "calendar.pads", pads="→".join(b.pad_ids)))
    if b.corridor_id:
        parts.append(translate(language, "calendar.corridor", corridor=b.corridor_id))
    return translate(
        language,
        "calendar.summary",
        drone=b.drone_id,
        resources=translate(language, "calendar.separator").join(parts),
        state=_state(language, b),
    )


def bookings_calendar(
    bookings: Iterable[Booking], now: datetime, language: str = "en"
) -> bytes:
    """Return ``bookings`` as an iCalendar document, one VEVENT each, times in UTC,
    its words in ``language``.

    ``now`` (aware UTC) becomes every event's DTSTAMP.
    """
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("x-wr-calname", translate(language, "calendar.name"))
    for b in bookings:
        event = Event()
        event.add("uid", f"booking-{b.id}@{b.site_id}.skyberth")
        event.add("dtstamp", now)
        event.add("dtstart", b.window.start)
        event.add("dtend", b.window.end)
        event.add("summary", booking_summary(b, language))
        event.add("status", _STATUS[b.state])
        event.add("sequence", b.version)
        event.add(
            "description",
            translate(
                language,
                "calendar.description",
                id=b.id,
                site=b.site_id,
                operator=b.operator_id,
                requested_by=b.requested_by,
                state=_state(language, b),
            ),
        )
        cal.add_component(event)
    ical: bytes = cal.to_ical()
    return ical
