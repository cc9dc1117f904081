"""The booking side of the live runtime: booking frames, and the gateway's changes.

Every committed booking event (approval, cancellation, a closure bumping a booking,
a booking still active in a new closure) becomes a live-stream ``booking`` frame
carrying the booking as ``GET /api/v1/bookings/{id}`` shows it, so pages replace
their copy with the frame's. Only a change to what the gateway flies by (a booking
becoming flyable, or stopping being so) reloads its fleet directory.

The gateway changes bookings too: it activates one when its drone takes off and
completes it when the drone lands, and a sweep completes those whose window has
ended. Each change is one transaction in a worker thread, retried whole on a
transient database error; a refusal is logged, not raised. Part of
``web.telemetry_runtime``, which subscribes to the ``EventLog``, hands the frames
from the committing thread to the loop, owns the directory reload, and passes the
gateway's callbacks and the sweep the actor the audit trail names.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from booking import services
from booking.errors import BookingError
from booking.model import (
    ActiveBookingInClosure,
    Actor,
    BookingBumped,
    BookingId,
    BookingStateChanged,
    DomainEvent,
)
from booking.unit_of_work import SqlUnitOfWork
from telemetry.live.frames import utc_iso
from telemetry.retry_policy import jittered_waits
from web.fleet_directory import ended_active_bookings
from web.schemas import BookingPublic

logger = logging.getLogger(__name__)

FLYABLE = frozenset({"approved", "active"})
WINDOW_END_SWEEP_S = 15.0
"""How often active bookings whose window has ended are completed: a booking
outlives its window by at most this (the gateway stops tying drones to it at once)."""
ACTIVATE_ATTEMPTS = 5
"""Whole state-change transactions (activate, complete) tried before giving up on a
transient DB error."""
ACTIVATE_FIRST_WAIT_S = 0.2
ACTIVATE_MAX_WAIT_S = 6.4
"""Back-off between attempts (jittered, up to 0.2 s * 2**attempt)."""

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


BookingChange = Callable[[BookingId, datetime], object]
"""One booking state change at a time, as a whole transaction (blocking)."""


def completion(
    uow_factory: Callable[[], SqlUnitOfWork], actor: Actor, why: str
) -> BookingChange:
    """Return the change that completes an active booking, ``why`` going to the
    audit trail."""
    return lambda bid, at: services.complete(uow_factory(), bid, actor, at, why)


def change_off_loop(
    loop: asyncio.AbstractEventLoop | None,
    verb: str,
    booking_id: int,
    change: BookingChange,
    t_s: float,
) -> None:
    """Run ``change`` at ``t_s`` (epoch seconds) in ``loop``'s default executor
    (``change_booking``), or nowhere when the runtime has no loop yet."""
    at = datetime.fromtimestamp(t_s, UTC)
    if loop is not None:
        loop.run_in_executor(None, change_booking, verb, booking_id, change, at)


def change_booking(
    verb: str, booking_id: int, change: BookingChange, at: datetime
) -> None:
    """Run one booking state change in this (worker) thread; a refusal is
    logged, not raised."""
    # A transient error (PostgreSQL restarting) retries the whole
    # transaction; if a commit did land before the error, the retry is
    # refused as a transition from the new state and changes nothing.
    waits = jittered_waits(ACTIVATE_FIRST_WAIT_S, ACTIVATE_MAX_WAIT_S)
    for attempt in range(1, ACTIVATE_ATTEMPTS + 1):
        try:
            change(BookingId(booking_id), at)
            return
        except BookingError as exc:
            logger.warning("booking %s not %s: %s", booking_id, verb, exc)
            return
        except (OperationalError, InterfaceError) as exc:
            if attempt == ACTIVATE_ATTEMPTS:
                logger.error("booking %s not %s: %s", booking_id, verb, exc)
                return
            time.sleep(next(waits))
        except Exception:
            logger.exception("booking %s: change to %s failed", booking_id, verb)
            return


async def run_window_end_sweep(
    engine: Engine, uow_factory: Callable[[], SqlUnitOfWork], actor: Actor
) -> None:
    """Complete every active booking whose window has ended, as ``actor``, every
    ``WINDOW_END_SWEEP_S`` (the drone may never have landed in sight of the
    gateway, or it is still up: the booking no longer covers it either way)."""
    while True:
        try:
            now = datetime.now(UTC)
            ended = await asyncio.to_thread(ended_active_bookings, engine, now)
            for booking_id in ended:
                await asyncio.to_thread(
                    change_booking,
                    "completed",
                    booking_id,
                    completion(uow_factory, actor, "window ended"),
                    now,
                )
        except Exception:
            logger.exception("booking window-end sweep failed; will retry")
        await asyncio.sleep(WINDOW_END_SWEEP_S)
