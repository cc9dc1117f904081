"""Committed booking events carry the booking exactly as the commit stored it.

The live stream builds its ``booking`` frames from that snapshot instead of reading
each booking back after the commit; these tests read it back anyway, from inside
the publish callback (where the live stream used to), and compare.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from airspace.site import PadId
from booking import closure_services, services
from booking.catalogue import StaticSiteCatalogue
from booking.model import Booking, BookingState, ClosedPad, DomainEvent, Role
from booking.tables import BookingRow, booking_from_row
from booking.unit_of_work import SqlUnitOfWork
from tests.integration.conftest import seed_user
from tests.integration.test_booking_store import NOW, SITE, START, register
from web.db import write_session
from web.runtime_bookings import booking_frame
from web.schemas import BookingPublic


class ReadBack:
    """A publish callback that reads each event's booking back after the commit."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seen: list[tuple[DomainEvent, Booking]] = []

    def __call__(self, events: Sequence[DomainEvent]) -> None:
        with Session(self.engine) as session:
            for event in events:
                row = session.get(BookingRow, event.booking_id)
                assert row is not None
                self.seen.append((event, booking_from_row(row)))


def view(booking: Booking) -> dict[str, Any]:
    return BookingPublic.of(booking).model_dump(mode="json")


def test_every_booking_event_carries_the_stored_booking_and_makes_the_same_frame(
    engine: Engine, catalogue: StaticSiteCatalogue
) -> None:
    read_back = ReadBack(engine)

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(lambda: write_session(engine), catalogue, read_back)

    operator = f"org-{uuid.uuid4().hex[:6]}"
    drones = [register(engine, catalogue, operator) for _ in range(2)]
    pilot = seed_user(engine, "pilot", Role.PILOT, operator).as_actor()
    admin = seed_user(engine, "admin", Role.SITE_ADMIN, None).as_actor()
    safety = seed_user(engine, "safety", Role.SAFETY_OFFICER, None).as_actor()
    start = START + timedelta(hours=5)
    flying, waiting = (
        services.request_booking(
            uow(),
            services.RequestBooking(
                SITE, drone, start, start + timedelta(minutes=20), PadId(pad), None
            ),
            pilot,
            NOW,
        )
        for drone, pad in zip(drones, ("P1", "P2"), strict=True)
    )
    services.approve(uow(), flying.id, admin, NOW)
    services.activate(uow(), flying.id, pilot, start + timedelta(minutes=1))
    closure_services.create_closure(
        uow(),
        closure_services.CreateClosure(
            SITE,
            ClosedPad(PadId("P1")),
            start,
            start + timedelta(hours=1),
            "bird strike check",
        ),
        safety,
        start + timedelta(minutes=2),
    )
    closure_services.create_closure(
        uow(),
        closure_services.CreateClosure(
            SITE,
            ClosedPad(PadId("P2")),
            start,
            start + timedelta(hours=1),
            "pad surface repair",
        ),
        safety,
        start + timedelta(minutes=3),
    )

    kinds = [(type(e).__name__, e.booking.state) for e, _ in read_back.seen]
    assert kinds == [
        ("BookingStateChanged", BookingState.PENDING),
        ("BookingStateChanged", BookingState.PENDING),
        ("BookingStateChanged", BookingState.APPROVED),
        ("BookingStateChanged", BookingState.ACTIVE),
        ("ActiveBookingInClosure", BookingState.ACTIVE),
        ("BookingBumped", BookingState.BUMPED),
    ]
    assert waiting.id == read_back.seen[-1][0].booking_id
    for event, stored in read_back.seen:
        assert event.booking == stored
        assert booking_frame(event, view(event.booking)) == booking_frame(
            event, view(stored)
        )
