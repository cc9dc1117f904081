"""Booking use cases: each opens a unit of work, decides, audits, commits.

This module holds a booking's lifecycle (request, approve, reject, cancel, activate,
complete); closures are in ``booking.closure_services``, drone registration in
``booking.drone_services``, the steps they share in ``booking.service_support``.

Services take ``now`` (aware, UTC) and the acting ``Actor``; they never read a clock,
a token or the environment. Every state change appends an ``AuditEntry`` and emits a
domain event through the unit of work, so both are committed with the change or not
at all. Reads that a decision depends on go through ``bookings.for_update`` first, the
store's serialisation point (see ``booking.ports``).

``conceal=True`` (the API's rule, ``booking.permissions``): a booking or drone of
another organisation is ``NotFound``, checked in the same unit of work, so its id
cannot be probed; without it the refusal is ``PermissionDenied``, naming the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from airspace.site import CorridorId, PadId, Site, SiteId
from airspace.volume import TimeWindow
from booking.errors import BookingRuleViolation, NotFound, Rule, format_span
from booking.model import (
    Actor,
    Booking,
    BookingId,
    BookingState,
    BookingStateChanged,
    DroneId,
    booking_snapshot,
    make_window,
)
from booking.permissions import (
    require_organisation,
    require_site_admin,
    require_visible,
)
from booking.ports import UnitOfWork
from booking.rules import (
    Schedule,
    check_quota,
    lookaround,
    quota_window,
)
from booking.service_support import _audit, _now, _site

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RequestBooking:
    """Command: book pads and/or a corridor for a drone; times aware (UTC)."""

    site_id: SiteId
    drone_id: DroneId
    start: datetime
    end: datetime
    takeoff_pad_id: PadId | None = None
    landing_pad_id: PadId | None = None
    corridor_id: CorridorId | None = None


FENCE_BLOCKING_STATES = frozenset({"mismatch", "refused"})
"""Fence outcomes that keep a booking from starting where a verified fence is
required (``uploaded`` and ``not_supported`` do not: nothing contradicts it)."""


@dataclass(frozen=True)
class FenceStanding:
    """Command detail: the last fence upload's outcome for a booking."""

    state: str
    """``verified``, ``uploaded``, ``mismatch``, ``refused`` or ``not_supported``."""
    reason: str


def _widen(window: TimeWindow, site: Site) -> TimeWindow:
    pad = lookaround(site)
    return TimeWindow(window.start - pad, window.end + pad)


def _record_change(
    uow: UnitOfWork,
    actor: Actor,
    now: datetime,
    before: Booking | None,
    after: Booking,
    note: str = "",
) -> None:
    if before is None:
        uow.bookings.add(after)
    else:
        uow.bookings.save(after)
    _audit(
        uow,
        actor,
        now,
        "booking.requested" if before is None else f"booking.{after.state}",
        ("booking", str(after.id)),
        booking_snapshot(before) if before is not None else None,
        booking_snapshot(after),
        note,
    )
    uow.emit(
        BookingStateChanged(
            after.id,
            after.site_id,
            after.operator_id,
            after.drone_id,
            before.state if before is not None else None,
            after.state,
            now,
            after,
        )
    )


def request_booking(
    uow: UnitOfWork,
    cmd: RequestBooking,
    actor: Actor,
    now: datetime,
    *,
    conceal: bool = False,
) -> Booking:
    """Return the new pending booking, or raise the first rule it breaks.

    Checks, in order: the actor may book the drone, the pads/corridor exist, the drone
    fits the site and pads, the window rules, closures, pads, corridor, drone.
    ``conceal``: see the module doc.
    """
    now = _now(now)
    window = make_window(cmd.start, cmd.end)
    with uow:
        site = _site(uow, cmd.site_id)
        drone = uow.drones.get(cmd.drone_id)
        if drone is None:
            raise NotFound("drone", cmd.drone_id)
        if conceal:
            require_visible(actor, drone.operator_id, "drone", cmd.drone_id)
        require_organisation(actor, drone.operator_id, f"book drone {drone.id}")
        bookings = uow.bookings.for_update(site.id, _widen(window, site))
        closures = uow.closures.overlapping(site.id, window)
        candidate = Booking(
            id=uow.bookings.next_id(),
            site_id=site.id,
            drone_id=drone.id,
            operator_id=drone.operator_id,
            requested_by=actor.user_id,
            window=window,
            takeoff_pad_id=cmd.takeoff_pad_id,
            landing_pad_id=cmd.landing_pad_id,
            corridor_id=cmd.corridor_id,
            created_at=now,
        )
        policy = uow.sites.policy(site.id)
        Schedule(site, policy, bookings, closures).check(candidate, drone, now)
        if policy.booking_quota is not None:
            held = uow.bookings.count_held(
                candidate.operator_id, quota_window(policy, now)
            )
            refused = check_quota(candidate, held, policy)
            if refused is not None:
                raise refused
        _record_change(uow, actor, now, None, candidate)
        uow.commit()
    logger.info("booking %s requested by %s", candidate.id, actor)
    return candidate


def _change_state(
    uow: UnitOfWork,
    booking_id: BookingId,
    actor: Actor,
    now: datetime,
    to: BookingState,
    authorise: Callable[[Booking], None],
    note: str = "",
    *,
    conceal: bool = False,
) -> Booking:
    now = _now(now)
    with uow:
        booking = uow.bookings.get(booking_id)
        if booking is None:
            raise NotFound("booking", booking_id)
        if conceal:
            require_visible(actor, booking.operator_id, "booking", booking_id)
        authorise(booking)
        # Lock the site's schedule, then re-read: a closure may have bumped it since.
        uow.bookings.lock_schedule(booking.site_id, booking.window)
        current = uow.bookings.get(booking_id) or booking
        changed = current.transition(to)
        _record_change(uow, actor, now, current, changed, note)
        uow.commit()
    logger.info("booking %s %s by %s", booking_id, to, actor)
    return changed


def approve(
    uow: UnitOfWork,
    booking_id: BookingId,
    actor: Actor,
    now: datetime,
    *,
    conceal: bool = False,
) -> Booking:
    """Return the booking approved; only site admins approve, before the window ends.

    ``conceal``: see the module doc.
    """

    def authorise(b: Booking) -> None:
        require_site_admin(actor, f"approve booking {b.id}", booking_ids=[b.id])
        if b.window.end <= now:
            raise BookingRuleViolation(
                Rule.IN_PAST,
                f"booking {b.id} window {format_span(b.window.start, b.window.end)} "
                "is over",
                booking_ids=[b.id],
            )

    return _change_state(
        uow, booking_id, actor, now, BookingState.APPROVED, authorise, conceal=conceal
    )


def reject(
    uow: UnitOfWork,
    booking_id: BookingId,
    actor: Actor,
    now: datetime,
    reason: str = "",
    *,
    conceal: bool = False,
) -> Booking:
    """Return the booking rejected; only site admins reject. ``reason`` is audited.

    ``conceal``: see the module doc.
    """

    def authorise(b: Booking) -> None:
        require_site_admin(actor, f"reject booking {b.id}", booking_ids=[b.id])

    return _change_state(
        uow,
        booking_id,
        actor,
        now,
        BookingState.REJECTED,
        authorise,
        reason,
        conceal=conceal,
    )


def _own_booking(actor: Actor, verb: str) -> Callable[[Booking], None]:
    def authorise(b: Booking) -> None:
        require_organisation(
            actor, b.operator_id, f"{verb} booking {b.id}", booking_ids=[b.id]
        )

    return authorise


def cancel(
    uow: UnitOfWork,
    booking_id: BookingId,
    actor: Actor,
    now: datetime,
    *,
    conceal: bool = False,
) -> Booking:
    """Return the booking cancelled; by its organisation or a site admin.

    ``conceal``: see the module doc.
    """
    return _change_state(
        uow,
        booking_id,
        actor,
        now,
        BookingState.CANCELLED,
        _own_booking(actor, "cancel"),
        conceal=conceal,
    )


def activate(
    uow: UnitOfWork,
    booking_id: BookingId,
    actor: Actor,
    now: datetime,
    fence: FenceStanding | None = None,
) -> Booking:
    """Return the approved booking made active (flying); only inside its window,
    and, where the site requires a verified fence, not while ``fence`` (the last
    upload's outcome, None: never sent) says ``mismatch`` or ``refused``."""
    own = _own_booking(actor, "activate")

    def authorise(b: Booking) -> None:
        own(b)
        if not b.window.start <= now < b.window.end:
            raise BookingRuleViolation(
                Rule.OUTSIDE_WINDOW,
                f"booking {b.id} can only start within "
                f"{format_span(b.window.start, b.window.end)}",
                booking_ids=[b.id],
            )
        if fence is None or fence.state not in FENCE_BLOCKING_STATES:
            return
        site = uow.sites.get(b.site_id)
        required = uow.sites.policy(b.site_id).require_verified_fence or (
            site is not None and site.require_verified_fence
        )
        if required:
            raise BookingRuleViolation(
                Rule.FENCE_NOT_VERIFIED,
                f"booking {b.id} cannot start: site {b.site_id} requires a "
                f"verified fence, and the drone's is {fence.state} ({fence.reason})",
                booking_ids=[b.id],
            )

    return _change_state(uow, booking_id, actor, now, BookingState.ACTIVE, authorise)


def complete(
    uow: UnitOfWork,
    booking_id: BookingId,
    actor: Actor,
    now: datetime,
    note: str = "",
    *,
    conceal: bool = False,
) -> Booking:
    """Return the active booking completed (its flight is over); by its
    organisation (the pilot ending it), or a site admin (the gateway once the drone
    has landed and disarmed, or the window's end). ``note`` says why, for the
    audit trail; ``conceal``: see the module doc."""
    return _change_state(
        uow,
        booking_id,
        actor,
        now,
        BookingState.COMPLETED,
        _own_booking(actor, "complete"),
        note,
        conceal=conceal,
    )
