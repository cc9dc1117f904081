"""Area closures: closing a pad, corridor or area, and lifting the closure again.

``create_closure`` stores the closure and bumps the pending/approved bookings it
hits (``bump_hit_bookings``, shared with ``booking.zone_imports``) in one unit of
work, with their audit entries and ``BookingBumped`` events; active flights it
covers keep flying and are reported with ``ActiveBookingInClosure``.
``delete_closure`` removes one; the bookings it bumped stay bumped. Like every
booking use case (``booking.services``), these take ``now`` (aware, UTC) and the
acting ``Actor``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from airspace.site import Site, SiteId
from booking.errors import BookingRuleViolation, NotFound, Rule, format_span
from booking.model import (
    BUMPABLE_STATES,
    ActiveBookingInClosure,
    Actor,
    Booking,
    BookingBumped,
    BookingState,
    ClosedCorridor,
    ClosedPad,
    Closure,
    ClosureId,
    ClosureTarget,
    booking_snapshot,
    closure_snapshot,
    make_window,
)
from booking.permissions import require_closure_manager
from booking.ports import UnitOfWork
from booking.rules import bookings_hit_by_closure
from booking.service_support import _audit, _now, _site

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CreateClosure:
    """Command: close a pad, corridor or area for ``[start, end)`` with a reason."""

    site_id: SiteId
    target: ClosureTarget
    start: datetime
    end: datetime
    reason: str


@dataclass(frozen=True)
class ClosureOutcome:
    """What ``create_closure`` did: the closure, the bookings it bumped (in their
    new state) and the active flights it covers (left flying, reported by event)."""

    closure: Closure
    bumped: tuple[Booking, ...]
    active_hit: tuple[Booking, ...]


def _check_target(site: Site, target: ClosureTarget) -> None:
    match target:
        case ClosedPad(pad_id) if pad_id not in {p.id for p in site.pads}:
            raise NotFound("pad", f"{pad_id} at site {site.id}")
        case ClosedCorridor(corridor_id) if corridor_id not in {
            c.id for c in site.corridors
        }:
            raise NotFound("corridor", f"{corridor_id} at site {site.id}")
        case _:
            return


def bump_hit_bookings(
    uow: UnitOfWork,
    closure: Closure,
    site: Site,
    bookings: Sequence[Booking],
    actor: Actor,
    now: datetime,
) -> tuple[list[Booking], list[Booking]]:
    """Bump the pending/approved ``bookings`` that ``closure`` hits, inside the
    caller's unit of work; return ``(bumped, active hit)``. Active flights are left
    flying and reported with ``ActiveBookingInClosure``."""
    bumped: list[Booking] = []
    active: list[Booking] = []
    for hit in bookings_hit_by_closure(closure, bookings, site):
        if hit.state not in BUMPABLE_STATES:
            active.append(hit)
            uow.emit(
                ActiveBookingInClosure(
                    hit.id,
                    closure.id,
                    site.id,
                    hit.operator_id,
                    hit.drone_id,
                    now,
                    hit,
                )
            )
            continue
        after = hit.transition(BookingState.BUMPED)
        uow.bookings.save(after)
        _audit(
            uow,
            actor,
            now,
            "booking.bumped",
            ("booking", str(hit.id)),
            booking_snapshot(hit),
            booking_snapshot(after),
            f"{closure.describe()}: {closure.reason}",
        )
        uow.emit(
            BookingBumped(
                hit.id,
                closure.id,
                site.id,
                hit.operator_id,
                hit.drone_id,
                hit.window,
                closure.reason,
                now,
                after,
            )
        )
        bumped.append(after)
    return bumped, active


def create_closure(
    uow: UnitOfWork, cmd: CreateClosure, actor: Actor, now: datetime
) -> ClosureOutcome:
    """Close a pad, corridor or area and bump the pending/approved bookings it hits.

    Everything happens in one unit of work: the closure, each bumped booking, their
    audit entries and ``BookingBumped`` events. Active flights it covers are left
    active and reported with ``ActiveBookingInClosure``.
    """
    now = _now(now)
    require_closure_manager(actor, "close pads, corridors or areas")
    window = make_window(cmd.start, cmd.end)
    if window.end <= now:
        raise BookingRuleViolation(
            Rule.IN_PAST,
            f"closure window {format_span(window.start, window.end)} is over",
        )
    if not cmd.reason.strip():
        raise BookingRuleViolation(Rule.CLOSURE_REASON, "a closure needs a reason")
    with uow:
        site = _site(uow, cmd.site_id)
        _check_target(site, cmd.target)
        bookings = uow.bookings.for_update(site.id, window)
        closure = Closure(
            uow.closures.next_id(),
            site.id,
            cmd.target,
            window,
            cmd.reason.strip(),
            actor.user_id,
            now,
        )
        uow.closures.add(closure)
        _audit(
            uow,
            actor,
            now,
            "closure.created",
            ("closure", str(closure.id)),
            None,
            closure_snapshot(closure),
        )
        bumped, active = bump_hit_bookings(uow, closure, site, bookings, actor, now)
        uow.commit()
    logger.info(
        "%s created by %s: %d bumped, %d active hit",
        closure.describe(),
        actor,
        len(bumped),
        len(active),
    )
    return ClosureOutcome(closure, tuple(bumped), tuple(active))


def delete_closure(
    uow: UnitOfWork, closure_id: ClosureId, actor: Actor, now: datetime
) -> Closure:
    """Delete a closure and return it; bookings it bumped stay bumped."""
    now = _now(now)
    require_closure_manager(actor, f"delete closure {closure_id}")
    with uow:
        closure = uow.closures.get(closure_id)
        if closure is None:
            raise NotFound("closure", closure_id)
        uow.bookings.for_update(closure.site_id, closure.window)
        uow.closures.remove(closure.id)
        _audit(
            uow,
            actor,
            now,
            "closure.deleted",
            ("closure", str(closure.id)),
            closure_snapshot(closure),
            None,
        )
        uow.commit()
    logger.info("%s deleted by %s", closure.describe(), actor)
    return closure
