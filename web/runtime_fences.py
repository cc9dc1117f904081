"""The fence-upload wiring of the live runtime: automatic upload and activation.

``web.booking_fences`` sends a booking's fence and keeps the reports; this module
ties it to the database and to the gateway's booking changes for
``web.telemetry_runtime``: the automatic upload reads the bookings from the
database, and activating a booking hands the booking service its fence's
standing. Where a site requires a verified fence, the service's refusal becomes a
``fence_not_verified`` warning event on the drone (``BookingFences.blocked``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from booking import services
from booking.errors import BookingRuleViolation, Rule
from booking.model import Actor, Booking, BookingId
from booking.unit_of_work import SqlUnitOfWork
from web.booking_fences import BookingFences, BookingLoader
from web.queries import BookingFilter, list_bookings


def bookings_between(engine: Engine, actor: Actor) -> BookingLoader:
    """Return the automatic upload's loader: the bookings whose windows overlap
    ``[start, end)``, as ``actor`` sees them (blocking; run it off the loop)."""

    def load(start: datetime, end: datetime) -> list[Booking]:
        with Session(engine) as session:
            return list_bookings(session, actor, BookingFilter(start=start, end=end))

    return load


def fenced_activation(
    fences: BookingFences,
    booking_id: int,
    uow_factory: Callable[[], SqlUnitOfWork],
    actor: Actor,
    loop: asyncio.AbstractEventLoop | None,
) -> Callable[[BookingId, datetime], None]:
    """Return the change that activates ``booking_id`` with its fence's standing as
    of now, for a worker thread. A refusal for the fence is raised, as any
    refusal, and also handed to ``fences.blocked`` on ``loop``."""
    fence = fences.standing(booking_id)

    def activate(bid: BookingId, at: datetime) -> None:
        try:
            services.activate(uow_factory(), bid, actor, at, fence)
        except BookingRuleViolation as exc:
            if exc.rule is Rule.FENCE_NOT_VERIFIED and loop is not None:
                message = f"{exc} (rule {exc.rule})"
                loop.call_soon_threadsafe(fences.blocked, booking_id, message)
            raise

    return activate
