"""Errors raised by the booking domain.

The tree::

    BookingError              base; carries ``rule`` and the ids it names
    ├── BookingConflict       another booking or a closure holds the resource (409)
    │   └── SigningRequired   site requires signing, the drone has no key (409)
    ├── BookingRuleViolation  a site rule is broken: mass, hours, horizon... (422)
    ├── QuotaExceeded         the operator already holds its quota of bookings (409)
    ├── InvalidTransition     the booking's state does not allow the change (409)
    ├── PermissionDenied      the actor's role or organisation may not do this (403)
    └── NotFound              no such site, pad, corridor, drone, booking, closure (404)

Every error has a message that names the thing and the reason, e.g.
``pad P2 already booked 2025-06-02 10:00-10:30Z by booking 41``, and structured
fields (``rule``, ``booking_ids``, ``closure_ids``) that ``as_dict`` returns ready for
a JSON body. The HTTP status in brackets is what ``web/errors.py`` is expected to map
each class to; the domain itself never speaks HTTP.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any


class Rule(enum.StrEnum):
    """The name of the rule a refusal comes from (stable; clients may match on it)."""

    PAD_BOOKED = "pad_booked"
    CORRIDOR_CAPACITY = "corridor_capacity"
    DRONE_BUSY = "drone_busy"
    CLOSURE = "closure"
    CLOSURE_REASON = "closure_reason"
    CONCURRENT_WRITE = "concurrent_write"
    PAD_MASS = "pad_mass"
    OPENING_HOURS = "opening_hours"
    HORIZON = "horizon"
    IN_PAST = "in_past"
    MAX_DURATION = "max_duration"
    WINDOW = "window"
    RESOURCES = "resources"
    DRONE = "drone"
    DRONE_SITE = "drone_site"
    DRONE_REGISTRATION = "drone_registration"
    PILOT_REGISTRATION = "pilot_registration"
    SYSID_TAKEN = "sysid_taken"
    BOOKING_QUOTA = "booking_quota"
    SIGNING_REQUIRED = "signing_required"
    OUTSIDE_WINDOW = "outside_window"
    TRANSITION = "transition"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    FORM = "form"
    CHECKLIST = "checklist"
    DRONE_MASS = "drone_mass"
    FLIGHT_EDIT = "flight_edit"
    FENCE_NOT_VERIFIED = "fence_not_verified"


class BookingError(Exception):
    """Base of every error the booking package raises."""

    rule: Rule

    def __init__(
        self,
        rule: Rule,
        message: str,
        *,
        booking_ids: Iterable[int] = (),
        closure_ids: Iterable[int] = (),
    ) -> None:
        self.rule = rule
        self.message = message
        self.booking_ids: tuple[int, ...] = tuple(booking_ids)
        self.closure_ids: tuple[int, ...] = tuple(closure_ids)
        super().__init__(message)

    def __str__(self) -> str:
        return f"{type(self).__name__}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        """Return the error as a JSON-ready mapping for an API response body."""
        return {
            "error": type(self).__name__,
            "rule": str(self.rule),
            "message": self.message,
            "booking_ids": list(self.booking_ids),
            "closure_ids": list(self.closure_ids),
        }


class BookingConflict(BookingError):
    """Another booking or an active closure already holds the resource."""


class SigningRequired(BookingConflict):
    """The site requires MAVLink signing and the drone has no signing key."""

    def __init__(self, drone_id: str, site_id: str) -> None:
        super().__init__(
            Rule.SIGNING_REQUIRED,
            f"site {site_id} requires MAVLink signing: drone {drone_id} has no "
            "signing key (register one before booking it here)",
        )


class BookingRuleViolation(BookingError):
    """The request breaks a site rule (mass, opening hours, horizon, duration...)."""


class QuotaExceeded(BookingError):
    """The operator already holds as many pending or approved bookings as allowed."""


class InvalidTransition(BookingError):
    """The booking's current state does not allow the requested change."""

    def __init__(self, booking_id: int, from_state: str, to_state: str) -> None:
        self.from_state = from_state
        self.to_state = to_state
        super().__init__(
            Rule.TRANSITION,
            f"booking {booking_id} cannot go from {from_state} to {to_state}",
            booking_ids=(booking_id,),
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the error with ``from_state`` and ``to_state`` added."""
        return {
            **super().as_dict(),
            "from_state": self.from_state,
            "to_state": self.to_state,
        }


class PermissionDenied(BookingError):
    """The actor's role or organisation may not perform this action."""

    def __init__(self, message: str, *, booking_ids: Iterable[int] = ()) -> None:
        super().__init__(Rule.PERMISSION, message, booking_ids=booking_ids)


class NotFound(BookingError):
    """No site, pad, corridor, drone, booking or closure has the given id."""

    def __init__(self, kind: str, ident: object) -> None:
        self.kind = kind
        self.ident = str(ident)
        super().__init__(Rule.NOT_FOUND, f"{kind} {ident} not found")


def format_span(start: datetime, end: datetime) -> str:
    """Return ``2025-06-02 10:00-10:30Z`` (UTC) for a window, dates shown as needed."""
    s, e = start.astimezone(UTC), end.astimezone(UTC)
    if s.date() == e.date():
        return f"{s:%Y-%m-%d %H:%M}-{e:%H:%M}Z"
    return f"{s:%Y-%m-%d %H:%M}Z-{e:%Y-%m-%d %H:%M}Z"
