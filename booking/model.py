"""The booking domain's values and entities: who, what drone, which booking, closures.

Everything here is a frozen dataclass. A state change makes a new ``Booking`` (with
``version`` one higher) instead of mutating the old one, so the services can audit
the before and after values and the store can use ``version`` for optimistic checks.

Ids: bookings and closures are numbered by the store (``int``); drones, operators and
users carry stable string ids chosen when they are registered.

Times are timezone-aware datetimes, normalised to UTC with ``as_utc``; naive datetimes
are refused. Windows are ``airspace.volume.TimeWindow`` values: half-open
``[start, end)``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NewType

from airspace.site import CorridorId, PadId, SiteId
from airspace.volume import TimeWindow, Volume
from booking.errors import BookingRuleViolation, InvalidTransition, Rule
from booking.registration import CadRegistration, Registration

BookingId = NewType("BookingId", int)
ClosureId = NewType("ClosureId", int)
DroneId = NewType("DroneId", str)
OperatorId = NewType("OperatorId", str)
UserId = NewType("UserId", str)

MAVLINK_SYSID_MIN = 1
MAVLINK_SYSID_MAX = 255


def as_utc(t: datetime, what: str = "time") -> datetime:
    """Return ``t`` in UTC; ``BookingRuleViolation`` (rule ``window``) if naive."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise BookingRuleViolation(
            Rule.WINDOW, f"{what} {t.isoformat()} has no timezone; send UTC"
        )
    return t.astimezone(UTC)


def make_window(start: datetime, end: datetime) -> TimeWindow:
    """Return the UTC window ``[start, end)``; refuses naive or empty windows."""
    s, e = as_utc(start, "start"), as_utc(end, "end")
    if not s < e:
        raise BookingRuleViolation(
            Rule.WINDOW, f"window start {s:%Y-%m-%d %H:%M}Z is not before its end"
        )
    return TimeWindow(s, e)


class Role(enum.StrEnum):
    """What a user may do."""

    OPERATOR = "operator"
    """Manages an organisation's drones and bookings."""
    PILOT = "pilot"
    """Flies an organisation's drones; may request and cancel its bookings."""
    SAFETY_OFFICER = "safety_officer"
    """Site staff: closes pads, corridors and areas."""
    SITE_ADMIN = "site_admin"
    """Site staff: approves bookings and manages closures."""


ORGANISATION_ROLES = frozenset({Role.OPERATOR, Role.PILOT})
"""Roles that act for one operator organisation only."""


@dataclass(frozen=True)
class Operator:
    """An organisation that flies drones at the site."""

    id: OperatorId
    name: str


@dataclass(frozen=True)
class Actor:
    """Who performs a service call: the user, their role and their organisation.

    Operators and pilots belong to an organisation; site staff may have none.
    """

    user_id: UserId
    role: Role
    operator_id: OperatorId | None = None

    def __post_init__(self) -> None:
        if self.role in ORGANISATION_ROLES and self.operator_id is None:
            raise ValueError(f"a {self.role} must belong to an operator organisation")

    def __str__(self) -> str:
        org = f" of {self.operator_id}" if self.operator_id else ""
        return f"user {self.user_id} ({self.role}{org})"


@dataclass(frozen=True)
class User:
    """A registered user."""

    id: UserId
    name: str
    role: Role
    operator_id: OperatorId | None = None
    disabled: bool = False
    """A disabled user cannot log in and their tokens are refused."""
    token_version: int = 0
    """Tokens carry the version they were issued at; bumping it revokes them."""

    def as_actor(self) -> Actor:
        """Return the ``Actor`` this user acts as."""
        return Actor(self.id, self.role, self.operator_id)


@dataclass(frozen=True)
class Drone:
    """A drone registered at one site by one operator."""

    id: DroneId
    name: str
    site_id: SiteId
    operator_id: OperatorId
    mavlink_sysid: int
    """MAVLink system id, 1..255, unique per site."""
    max_takeoff_mass_kg: float
    signing_key: bytes | None = None
    """MAVLink 2 signing key (32 bytes), when the drone signs its messages."""
    cad: CadRegistration = dataclasses.field(default_factory=CadRegistration)
    """Hong Kong CAD registration data (``booking.registration``)."""

    def __post_init__(self) -> None:
        self.cad.check_fields(self.id, self.max_takeoff_mass_kg)
        if not MAVLINK_SYSID_MIN <= self.mavlink_sysid <= MAVLINK_SYSID_MAX:
            raise BookingRuleViolation(
                Rule.DRONE,
                f"drone {self.id}: MAVLink system id {self.mavlink_sysid} is outside "
                f"{MAVLINK_SYSID_MIN}..{MAVLINK_SYSID_MAX}",
            )
        if not self.max_takeoff_mass_kg > 0:
            raise BookingRuleViolation(
                Rule.DRONE,
                f"drone {self.id}: max take-off mass must be positive kg",
            )
        if self.signing_key is not None and len(self.signing_key) != 32:
            raise BookingRuleViolation(
                Rule.DRONE, f"drone {self.id}: a signing key is 32 bytes"
            )


class BookingState(enum.StrEnum):
    """Where a booking is in its life."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    BUMPED = "bumped"


TRANSITIONS: Mapping[BookingState, frozenset[BookingState]] = {
    BookingState.PENDING: frozenset(
        {
            BookingState.APPROVED,
            BookingState.REJECTED,
            BookingState.CANCELLED,
            BookingState.BUMPED,
        }
    ),
    BookingState.APPROVED: frozenset(
        {BookingState.ACTIVE, BookingState.CANCELLED, BookingState.BUMPED}
    ),
    BookingState.ACTIVE: frozenset({BookingState.COMPLETED}),
    BookingState.REJECTED: frozenset(),
    BookingState.COMPLETED: frozenset(),
    BookingState.CANCELLED: frozenset(),
    BookingState.BUMPED: frozenset(),
}
"""Allowed moves; every other move raises ``InvalidTransition``."""

OCCUPYING_STATES = frozenset(
    {BookingState.PENDING, BookingState.APPROVED, BookingState.ACTIVE}
)
"""Only bookings in these states hold pads, corridor capacity and drones."""

BUMPABLE_STATES = frozenset({BookingState.PENDING, BookingState.APPROVED})
"""A closure bumps bookings in these states; an active flight is reported instead."""


@dataclass(frozen=True)
class Booking:
    """A drone's claim on pads and/or a corridor of one site for a UTC window.

    A booking uses at least one resource: a take-off pad, a landing pad (the same pad
    for an out-and-back flight) or a corridor; the usual flight uses all three. A
    pad-only booking is a hover or ground test; a corridor-only booking transits the
    site without using its pads.
    """

    id: BookingId
    site_id: SiteId
    drone_id: DroneId
    operator_id: OperatorId
    requested_by: UserId
    window: TimeWindow
    takeoff_pad_id: PadId | None
    landing_pad_id: PadId | None
    corridor_id: CorridorId | None
    state: BookingState = BookingState.PENDING
    created_at: datetime | None = None
    version: int = 0
    """Raised by one on every change; the store may use it for optimistic checks."""

    @property
    def pad_ids(self) -> tuple[PadId, ...]:
        """The distinct pads the booking uses, take-off first."""
        pads = [p for p in (self.takeoff_pad_id, self.landing_pad_id) if p is not None]
        return tuple(dict.fromkeys(pads))

    @property
    def occupies(self) -> bool:
        """True when the booking holds its resources (pending, approved, active)."""
        return self.state in OCCUPYING_STATES

    def transition(self, to: BookingState) -> Booking:
        """Return this booking moved to ``to``; ``InvalidTransition`` if not allowed."""
        if to not in TRANSITIONS[self.state]:
            raise InvalidTransition(self.id, self.state, to)
        return dataclasses.replace(self, state=to, version=self.version + 1)


@dataclass(frozen=True)
class ClosedPad:
    """A closure target: one pad."""

    pad_id: PadId


@dataclass(frozen=True)
class ClosedCorridor:
    """A closure target: one corridor."""

    corridor_id: CorridorId


@dataclass(frozen=True)
class ClosedArea:
    """A closure target: an area, as a polygon in site metres and a band in m AMSL."""

    volume: Volume


ClosureTarget = ClosedPad | ClosedCorridor | ClosedArea


@dataclass(frozen=True)
class ZoneOrigin:
    """Where an imported official zone came from: its source and its id there."""

    source: str
    """The file or provider, e.g. ``ED-269: hk-sample-zones.json``."""
    zone_id: str


@dataclass(frozen=True)
class Closure:
    """A pad, corridor or area closed for a UTC window, with the reason why."""

    id: ClosureId
    site_id: SiteId
    target: ClosureTarget
    window: TimeWindow
    reason: str
    created_by: UserId
    created_at: datetime
    origin: ZoneOrigin | None = None
    """Set for a zone imported from an official source; None when drawn by hand."""

    def describe(self) -> str:
        """Return ``closure 7 (pad P2)``-style text for messages."""
        match self.target:
            case ClosedPad(pad_id):
                what = f"pad {pad_id}"
            case ClosedCorridor(corridor_id):
                what = f"corridor {corridor_id}"
            case ClosedArea() if self.origin is not None:
                what = f"zone {self.origin.zone_id} from {self.origin.source}"
            case ClosedArea():
                what = "area"
        return f"closure {self.id} ({what})"


@dataclass(frozen=True)
class BookingStateChanged:
    """Event: a booking was created (``from_state`` None) or changed state."""

    booking_id: BookingId
    site_id: SiteId
    operator_id: OperatorId
    drone_id: DroneId
    from_state: BookingState | None
    to_state: BookingState
    at: datetime
    booking: Booking
    """The booking as this change left it (what the commit stored)."""


@dataclass(frozen=True)
class BookingBumped:
    """Event: a closure bumped a pending or approved booking."""

    booking_id: BookingId
    closure_id: ClosureId
    site_id: SiteId
    operator_id: OperatorId
    drone_id: DroneId
    window: TimeWindow
    reason: str
    at: datetime
    booking: Booking
    """The booking as the closure left it (bumped)."""


@dataclass(frozen=True)
class ActiveBookingInClosure:
    """Event: a new closure covers a flight already active; staff must act on it."""

    booking_id: BookingId
    closure_id: ClosureId
    site_id: SiteId
    operator_id: OperatorId
    drone_id: DroneId
    at: datetime
    booking: Booking
    """The active booking (the closure leaves it unchanged)."""


DomainEvent = BookingStateChanged | BookingBumped | ActiveBookingInClosure
"""Each event carries its booking's snapshot after the change, so subscribers (the
live stream) need not read it back from the database after the commit."""


@dataclass(frozen=True)
class AuditEntry:
    """One append-only audit record: who did what to which thing, when, and the
    values before and after (``None`` for a creation or a deletion)."""

    at: datetime
    actor_id: UserId
    actor_role: Role
    action: str
    """Dotted verb, e.g. ``booking.approved``, ``closure.created``."""
    subject_kind: str
    subject_id: str
    before: Mapping[str, str] | None
    after: Mapping[str, str] | None
    note: str = ""


def _window_fields(window: TimeWindow) -> dict[str, str]:
    return {"start": window.start.isoformat(), "end": window.end.isoformat()}


def booking_snapshot(booking: Booking) -> dict[str, str]:
    """Return the booking as flat strings, for audit before/after values."""
    return {
        "id": str(booking.id),
        "site_id": booking.site_id,
        "drone_id": booking.drone_id,
        "operator_id": booking.operator_id,
        "requested_by": booking.requested_by,
        **_window_fields(booking.window),
        "takeoff_pad_id": booking.takeoff_pad_id or "",
        "landing_pad_id": booking.landing_pad_id or "",
        "corridor_id": booking.corridor_id or "",
        "state": booking.state,
        "version": str(booking.version),
    }


def closure_snapshot(closure: Closure) -> dict[str, str]:
    """Return the closure as flat strings, for audit before/after values."""
    match closure.target:
        case ClosedPad(pad_id):
            target = f"pad:{pad_id}"
        case ClosedCorridor(corridor_id):
            target = f"corridor:{corridor_id}"
        case ClosedArea(volume):
            target = (
                f"area:{volume.outline.wkt} "
                f"[{volume.floor_amsl_m}, {volume.ceiling_amsl_m}] m AMSL"
            )
    return {
        "id": str(closure.id),
        "site_id": closure.site_id,
        "target": target,
        **_window_fields(closure.window),
        "reason": closure.reason,
        "created_by": closure.created_by,
        **(
            {"source": closure.origin.source, "source_zone_id": closure.origin.zone_id}
            if closure.origin
            else {}
        ),
    }


def drone_snapshot(drone: Drone) -> dict[str, str]:
    """Return the drone as flat strings (never the signing key itself)."""
    return {
        "id": drone.id,
        "name": drone.name,
        "site_id": drone.site_id,
        "operator_id": drone.operator_id,
        "mavlink_sysid": str(drone.mavlink_sysid),
        "max_takeoff_mass_kg": str(drone.max_takeoff_mass_kg),
        "signed": "yes" if drone.signing_key else "no",
        **cad_snapshot(drone),
    }


def cad_snapshot(drone: Drone) -> dict[str, str]:
    """Return the drone's CAD registration data as flat strings ("" when not given)."""
    cad = drone.cad

    def number(r: Registration | None) -> str:
        return r.number if r else ""

    def until(r: Registration | None) -> str:
        return r.valid_until.isoformat() if r and r.valid_until else ""

    return {
        "registration_mark": number(cad.registration_mark),
        "registration_valid_until": until(cad.registration_mark),
        "serial_number": cad.serial_number or "",
        "category": str(cad.effective_category(drone.max_takeoff_mass_kg)),
        "operator_registration": number(cad.operator),
        "operator_registration_valid_until": until(cad.operator),
        "remote_pilot_registration": number(cad.remote_pilot),
        "remote_pilot_registration_valid_until": until(cad.remote_pilot),
    }
