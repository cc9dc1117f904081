"""The schedule query's lower bound (the site's longest booking) never hides one."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from airspace.site import PadId
from booking import services
from booking.catalogue import StaticSiteCatalogue
from booking.errors import BookingConflict, Rule
from booking.model import Actor, Booking, DroneId, Role
from tests.integration.conftest import seed_user
from tests.integration.test_booking_store import NOW, SITE, START, register, uow
from web.db import write_session


def _book(
    engine: Engine,
    catalogue: StaticSiteCatalogue,
    drone: DroneId,
    actor: Actor,
    start: datetime,
    minutes: int,
) -> Booking:
    return services.request_booking(
        uow(engine, catalogue),
        services.RequestBooking(
            SITE,
            drone,
            start,
            start + timedelta(minutes=minutes),
            PadId("P2"),
            PadId("P2"),
        ),
        actor,
        NOW,
    )


@pytest.mark.parametrize("forget_span", [False, True], ids=["span-kept", "span-lost"])
def test_a_long_booking_refuses_a_short_one_near_its_end_whatever_the_stored_span(
    engine: Engine, catalogue: StaticSiteCatalogue, forget_span: bool
) -> None:
    operator = f"org-{uuid.uuid4().hex[:6]}"
    actor = seed_user(engine, "pilot", Role.PILOT, operator).as_actor()
    long_start = START + timedelta(days=3 if forget_span else 1)
    first = _book(
        engine, catalogue, register(engine, catalogue, operator), actor, long_start, 240
    )
    if forget_span:  # a database written before the span existed
        with write_session(engine) as session:
            session.execute(
                sa.text("DELETE FROM id_counters WHERE name LIKE 'booking_span_s:%'")
            )
    with pytest.raises(BookingConflict) as caught:
        _book(
            engine,
            catalogue,
            register(engine, catalogue, operator),
            actor,
            long_start + timedelta(minutes=220),
            10,
        )
    assert caught.value.rule is Rule.PAD_BOOKED
    assert first.id in caught.value.booking_ids
    # The refusal rolled back; the next committed booking stores the span again.
    _book(
        engine,
        catalogue,
        register(engine, catalogue, operator),
        actor,
        long_start + timedelta(minutes=300),
        10,
    )
    with write_session(engine) as session:
        span = session.execute(
            sa.text("SELECT value FROM id_counters WHERE name = :n"),
            {"n": f"booking_span_s:{SITE}"},
        ).scalar_one()
    assert span >= 240 * 60
