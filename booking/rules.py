"""The booking rules: pure functions that say whether a booking may hold a window.

Each ``check_*`` function returns ``None`` when its rule passes or the precise error
(not raised) when it refuses, naming the rule and the other booking or closure it hit;
``refusals`` runs them all and ``check_booking`` raises the first. Nothing here reads a
clock: ``now`` is passed in. Only bookings in ``OCCUPYING_STATES`` (pending, approved,
active) hold resources; callers may pass every booking, the rules filter.

The resource rules:

- **Pads**: one booking at a time per pad, and ``Pad.turnaround_min`` of clearing and
  charging before and after each booking. Two bookings on a pad therefore need at
  least ``turnaround_min`` between the end of one and the start of the next.
- **Corridors**: at most ``Corridor.capacity`` bookings at any instant. The rule
  computes the peak concurrency over the new window, so three bookings that each
  overlap a fourth but not each other count as two at once, not four.
- **Drones**: one booking at a time per drone, no padding.
- **Closures**: no booking may overlap an active closure of a pad or corridor it uses,
  or an area closure whose volume overlaps (3-D) its corridor volume or a pad column.

The site rules (``SitePolicy``): the window starts no earlier than ``now``, ends within
the booking horizon, lasts at most ``max_duration``, and lies inside one day's opening
hours in the site's local timezone; the drone's max take-off mass fits every pad used.
The drone's and its remote pilot's CAD registrations must cover the booking's last
local day (``booking.registration``; missing ones only where the policy requires).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from shapely.geometry import Point

from airspace.site import Pad, Site
from airspace.volume import TimeWindow, Volume, volumes_overlap
from booking.errors import (
    BookingConflict,
    BookingError,
    BookingRuleViolation,
    NotFound,
    QuotaExceeded,
    Rule,
    SigningRequired,
    format_span,
)
from booking.model import (
    Booking,
    ClosedArea,
    ClosedCorridor,
    ClosedPad,
    Closure,
    Drone,
)
from booking.registration import check_registration, local_day

PAD_RADIUS_M = 5.0
"""A pad given as a point occupies a disc of this radius (site metres)."""
PAD_COLUMN_M = 30.0
"""Height above ground of the take-off/landing column over a pad, for area closures."""

ALL_DAYS = frozenset(range(7))


@dataclass(frozen=True)
class SitePolicy:
    """A site's booking settings; times of day are local to the site's timezone."""

    opens_local: time = time(7, 0)
    closes_local: time = time(19, 0)
    open_weekdays: frozenset[int] = field(default=ALL_DAYS)
    """``date.weekday()`` numbers (Monday 0) on which the site opens."""
    horizon: timedelta = timedelta(days=30)
    """How far ahead of ``now`` a window may end (ASTM F3548 plans 30 days ahead)."""
    max_duration: timedelta = timedelta(hours=4)
    always_open: bool = False
    """Open round the clock every day (rehearsals, the demo): no hours check."""
    booking_quota: int | None = None
    """How many bookings one operator may hold pending or approved, ending within
    the horizon, across sites (None: no quota). One client cannot fill a schedule."""
    require_cad_registration: bool = False
    """Refuse drones over 250 g with no CAD registration mark or remote pilot
    registration (Hong Kong, Cap. 448G). Expired registrations are always refused."""
    require_verified_fence: bool = False
    """Every site of this server as if its file said ``require_verified_fence``."""

    def __post_init__(self) -> None:
        if not self.opens_local < self.closes_local:
            raise ValueError(
                f"site opens {self.opens_local} but closes {self.closes_local}: "
                "opening hours must lie within one day"
            )
        if self.horizon <= timedelta(0) or self.max_duration <= timedelta(0):
            raise ValueError("horizon and max_duration must be positive")


def _occupying(bookings: Iterable[Booking], candidate: Booking) -> list[Booking]:
    return [b for b in bookings if b.occupies and b.id != candidate.id]


def _by(bookings: Sequence[Booking]) -> str:
    parts = [f"{format_span(b.window.start, b.window.end)}" for b in bookings]
    ids = [f"booking {b.id}" for b in bookings]
    return " and ".join(
        f"{span} by {ident}" for span, ident in zip(parts, ids, strict=True)
    )


def pad_volume(pad: Pad, site: Site) -> Volume:
    """Return the column a pad's take-offs and landings use, in site metres/m AMSL.

    A polygon pad is its own outline; a point pad is a disc of ``PAD_RADIUS_M``. The
    column reaches ``PAD_COLUMN_M`` above the site's ground elevation.
    """
    geom = pad.geometry_m
    outline = geom.buffer(PAD_RADIUS_M) if isinstance(geom, Point) else geom
    floor = site.ground_elev_m
    return Volume(outline, floor, floor + PAD_COLUMN_M)


def check_resources(candidate: Booking, site: Site) -> BookingError | None:
    """Refuse a booking with no resource, or naming a pad/corridor the site lacks."""
    if not candidate.pad_ids and candidate.corridor_id is None:
        return BookingRuleViolation(
            Rule.RESOURCES,
            "a booking needs a take-off pad, a landing pad or a corridor",
        )
    if candidate.site_id != site.id:
        return NotFound("site", candidate.site_id)
    known_pads = {p.id for p in site.pads}
    for pad_id in candidate.pad_ids:
        if pad_id not in known_pads:
            return NotFound("pad", f"{pad_id} at site {site.id}")
    known_corridors = {c.id for c in site.corridors}
    if (
        candidate.corridor_id is not None
        and candidate.corridor_id not in known_corridors
    ):
        return NotFound("corridor", f"{candidate.corridor_id} at site {site.id}")
    return None


def check_drone_fits(
    candidate: Booking, drone: Drone, site: Site
) -> BookingError | None:
    """Refuse a drone of another site or operator, or heavier than a pad it uses."""
    if drone.site_id != candidate.site_id:
        return BookingRuleViolation(
            Rule.DRONE_SITE,
            f"drone {drone.id} is registered at site {drone.site_id}, "
            f"not {candidate.site_id}",
        )
    for pad_id in candidate.pad_ids:
        pad = site.pad(pad_id)
        if drone.max_takeoff_mass_kg > pad.max_takeoff_mass_kg:
            return BookingRuleViolation(
                Rule.PAD_MASS,
                f"drone {drone.id} max take-off mass {drone.max_takeoff_mass_kg:g} kg "
                f"exceeds pad {pad.id} limit {pad.max_takeoff_mass_kg:g} kg",
            )
    return None


def check_signing(drone: Drone, site: Site) -> BookingError | None:
    """Refuse a drone without a signing key at a site that requires signing: its
    frames would all be refused there, so it would fly unseen."""
    if site.require_signing and drone.signing_key is None:
        return SigningRequired(drone.id, site.id)
    return None


def check_time(
    window: TimeWindow, policy: SitePolicy, site: Site, now: datetime
) -> BookingError | None:
    """Refuse a window in the past, beyond the horizon, too long, or outside hours."""
    span = format_span(window.start, window.end)
    if window.start < now:
        return BookingRuleViolation(
            Rule.IN_PAST, f"window {span} starts before now ({now:%Y-%m-%d %H:%M}Z)"
        )
    if window.end > now + policy.horizon:
        return BookingRuleViolation(
            Rule.HORIZON,
            f"window {span} ends more than {policy.horizon.days} days ahead",
        )
    if window.end - window.start > policy.max_duration:
        return BookingRuleViolation(
            Rule.MAX_DURATION,
            f"window {span} is longer than the maximum {policy.max_duration}",
        )
    if policy.always_open:
        return None
    tz = ZoneInfo(site.timezone)
    start_local = window.start.astimezone(tz)
    day = start_local.date()
    opens = datetime.combine(day, policy.opens_local, tzinfo=tz)
    closes = datetime.combine(day, policy.closes_local, tzinfo=tz)
    hours = f"{policy.opens_local:%H:%M}-{policy.closes_local:%H:%M} {site.timezone}"
    if day.weekday() not in policy.open_weekdays:
        return BookingRuleViolation(
            Rule.OPENING_HOURS, f"window {span} falls on a day the site is closed"
        )
    if not (opens <= window.start and window.end <= closes):
        return BookingRuleViolation(
            Rule.OPENING_HOURS, f"window {span} is outside opening hours {hours}"
        )
    return None


def _pad_conflicts(
    candidate: Booking, pad: Pad, others: Sequence[Booking]
) -> list[Booking]:
    gap = timedelta(minutes=pad.turnaround_min)
    w = candidate.window
    return [
        b
        for b in others
        if pad.id in b.pad_ids
        and b.window.start < w.end + gap
        and w.start < b.window.end + gap
    ]


def check_pads(
    candidate: Booking, bookings: Iterable[Booking], site: Site
) -> BookingConflict | None:
    """Refuse when a pad used by ``candidate`` is held, turnaround padding included."""
    others = _occupying(bookings, candidate)
    for pad_id in candidate.pad_ids:
        pad = site.pad(pad_id)
        hits = sorted(
            _pad_conflicts(candidate, pad, others), key=lambda b: b.window.start
        )
        if hits:
            padding = (
                f" ({pad.turnaround_min:g} min turnaround)"
                if pad.turnaround_min
                else ""
            )
            return BookingConflict(
                Rule.PAD_BOOKED,
                f"pad {pad.id} already booked {_by(hits)}{padding}",
                booking_ids=[b.id for b in hits],
            )
    return None


def peak_overlap(
    windows: Sequence[TimeWindow],
) -> tuple[int, datetime | None, list[int]]:
    """Return ``(peak, instant, indexes)``: the most windows holding one instant.

    Windows are half-open, so one ending as another starts does not count twice.
    ``instant`` is the first instant of the peak and ``indexes`` the windows (by
    position) that hold it; ``(0, None, [])`` for no windows.
    """
    # At one instant ends sort before starts: [a, t) and [t, b) never coexist.
    events = sorted(
        [(w.start, 1, i) for i, w in enumerate(windows)]
        + [(w.end, 0, i) for i, w in enumerate(windows)]
    )
    live: set[int] = set()
    peak, at, holders = 0, None, []
    for t, is_start, i in events:
        if is_start:
            live.add(i)
            if len(live) > peak:
                peak, at, holders = len(live), t, sorted(live)
        else:
            live.discard(i)
    return peak, at, holders


def check_corridor(
    candidate: Booking, bookings: Iterable[Booking], site: Site
) -> BookingConflict | None:
    """Refuse when the corridor would exceed its capacity at any instant."""
    if candidate.corridor_id is None:
        return None
    corridor = site.corridor(candidate.corridor_id)
    w = candidate.window
    within = [
        b
        for b in _occupying(bookings, candidate)
        if b.corridor_id == corridor.id and b.window.overlaps(w)
    ]
    clipped = [
        TimeWindow(max(b.window.start, w.start), min(b.window.end, w.end))
        for b in within
    ]
    peak, at, holders = peak_overlap(clipped)
    if peak + 1 <= corridor.capacity or at is None:
        return None
    hits = [within[i] for i in holders]
    return BookingConflict(
        Rule.CORRIDOR_CAPACITY,
        f"corridor {corridor.id} full (capacity {corridor.capacity}) at "
        f"{at:%Y-%m-%d %H:%M}Z: already booked {_by(hits)}",
        booking_ids=[b.id for b in hits],
    )


def check_drone_free(
    candidate: Booking, bookings: Iterable[Booking]
) -> BookingConflict | None:
    """Refuse when the drone already holds an overlapping booking."""
    hits = sorted(
        (
            b
            for b in _occupying(bookings, candidate)
            if b.drone_id == candidate.drone_id and b.window.overlaps(candidate.window)
        ),
        key=lambda b: b.window.start,
    )
    if not hits:
        return None
    return BookingConflict(
        Rule.DRONE_BUSY,
        f"drone {candidate.drone_id} already booked {_by(hits)}",
        booking_ids=[b.id for b in hits],
    )


def closure_hits(closure: Closure, booking: Booking, site: Site) -> bool:
    """Return True when ``closure`` overlaps ``booking`` exactly, in space and time.

    Pad and corridor closures hit by id; an area closure hits when its volume shares
    airspace (``volumes_overlap``: area and altitude) with the booking's corridor
    volume or the column of a pad it uses. The booking's state is not considered.
    """
    if closure.site_id != booking.site_id or not closure.window.overlaps(
        booking.window
    ):
        return False
    match closure.target:
        case ClosedPad(pad_id):
            return pad_id in booking.pad_ids
        case ClosedCorridor(corridor_id):
            return corridor_id == booking.corridor_id
        case ClosedArea(area):
            volumes = [pad_volume(site.pad(p), site) for p in booking.pad_ids]
            if booking.corridor_id is not None:
                volumes.append(site.corridor(booking.corridor_id).volume)
            return any(volumes_overlap(area, v) for v in volumes)


def bookings_hit_by_closure(
    closure: Closure, bookings: Iterable[Booking], site: Site
) -> list[Booking]:
    """Return the occupying bookings (pending, approved, active) ``closure`` hits."""
    return [b for b in bookings if b.occupies and closure_hits(closure, b, site)]


def check_closures(
    candidate: Booking, closures: Iterable[Closure], site: Site
) -> BookingConflict | None:
    """Refuse a booking that overlaps an active closure."""
    for closure in sorted(closures, key=lambda c: c.window.start):
        if closure_hits(closure, candidate, site):
            span = format_span(closure.window.start, closure.window.end)
            return BookingConflict(
                Rule.CLOSURE,
                f"{closure.describe()} closed {span}: {closure.reason}",
                closure_ids=[closure.id],
            )
    return None


def check_drone_registration(
    candidate: Booking, drone: Drone, policy: SitePolicy, site: Site
) -> BookingError | None:
    """Refuse a drone or remote pilot whose CAD registration does not cover the
    booking's last local day (``booking.registration``)."""
    last_day = local_day(
        candidate.window.end - timedelta(microseconds=1), site.timezone
    )
    return check_registration(
        drone.id,
        drone.cad,
        drone.max_takeoff_mass_kg,
        last_day,
        required=policy.require_cad_registration,
    )


def check_sysid_free(
    drone: Drone, drones: Iterable[Drone]
) -> BookingRuleViolation | None:
    """Refuse a drone whose MAVLink system id another drone of its site uses."""
    for other in drones:
        if (
            other.id != drone.id
            and other.site_id == drone.site_id
            and other.mavlink_sysid == drone.mavlink_sysid
        ):
            return BookingRuleViolation(
                Rule.SYSID_TAKEN,
                f"MAVLink system id {drone.mavlink_sysid} at site {drone.site_id} "
                f"is already used by drone {other.id}",
            )
    return None


@dataclass(frozen=True)
class Schedule:
    """What a booking is checked against: a site, its policy, and the bookings and
    closures around the window (as loaded by ``BookingRepository.for_update``)."""

    site: Site
    policy: SitePolicy
    bookings: Sequence[Booking]
    closures: Sequence[Closure]

    def refusals(
        self, candidate: Booking, drone: Drone, now: datetime
    ) -> list[BookingError]:
        """Return every rule ``candidate`` breaks, in the order they are reported.

        Shape and existence are checked first; when they fail the rest is skipped,
        since the later rules look pads and corridors up on the site.
        """
        shape = check_resources(candidate, self.site)
        if shape is not None:
            return [shape]
        checks = [
            check_drone_fits(candidate, drone, self.site),
            check_signing(drone, self.site),
            check_time(candidate.window, self.policy, self.site, now),
            check_closures(candidate, self.closures, self.site),
            check_pads(candidate, self.bookings, self.site),
            check_corridor(candidate, self.bookings, self.site),
            check_drone_free(candidate, self.bookings),
            check_drone_registration(candidate, drone, self.policy, self.site),
        ]
        return [c for c in checks if c is not None]

    def check(self, candidate: Booking, drone: Drone, now: datetime) -> None:
        """Raise the first refusal for ``candidate``; return when every rule passes."""
        refused = self.refusals(candidate, drone, now)
        if refused:
            raise refused[0]


def quota_window(policy: SitePolicy, now: datetime) -> TimeWindow:
    """The window whose held bookings count towards the quota: now to the horizon."""
    return TimeWindow(now, now + policy.horizon)


def check_quota(
    candidate: Booking, held: int, policy: SitePolicy
) -> QuotaExceeded | None:
    """Refuse ``candidate`` when its operator already holds ``held`` bookings
    (pending or approved, in ``quota_window``) and that reaches the quota."""
    quota = policy.booking_quota
    if quota is None or held < quota:
        return None
    return QuotaExceeded(
        Rule.BOOKING_QUOTA,
        f"operator {candidate.operator_id} already holds {held} pending or approved "
        f"bookings within the {policy.horizon.days}-day horizon; the booking quota "
        f"is {quota}",
    )


def lookaround(site: Site) -> timedelta:
    """Return how far beyond a window other bookings can still conflict with it
    (the longest pad turnaround), so loaders widen their query by it."""
    return timedelta(minutes=max((p.turnaround_min for p in site.pads), default=0.0))
