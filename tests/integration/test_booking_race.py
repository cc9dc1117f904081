"""100 concurrent requests for the same pad and window: exactly one wins.

Modelled on a two-thread race on a real database: every request goes through the
real services and the real store in its own thread and transaction.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from airspace.site import PadId, SiteId
from booking import drone_services, services
from booking.catalogue import StaticSiteCatalogue
from booking.errors import BookingConflict, Rule
from booking.model import Actor, Booking, DroneId, OperatorId, Role
from booking.unit_of_work import SqlUnitOfWork
from tests.integration.conftest import seed_user
from web.db import write_session

SITE = SiteId("cyberport-pier")
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
RACERS = 100


def _register_fleet(
    engine: Engine, catalogue: StaticSiteCatalogue, operator: str, actor: Actor
) -> list[DroneId]:
    drones = []
    for n in range(RACERS):
        drone_id = DroneId(f"racer-{operator}-{n}")
        drone_services.register_drone(
            SqlUnitOfWork(lambda: write_session(engine), catalogue),
            drone_services.RegisterDrone(
                drone_id, f"Racer {n}", SITE, OperatorId(operator), n + 1, 5.0
            ),
            actor,
            NOW,
        )
        drones.append(drone_id)
    return drones


@pytest.mark.slow
def test_hundred_concurrent_requests_for_one_pad_and_window_book_it_once(
    engine: Engine, catalogue: StaticSiteCatalogue
) -> None:
    operator = f"org-{uuid.uuid4().hex[:6]}"
    actor = seed_user(engine, "operator", Role.OPERATOR, operator).as_actor()
    drones = _register_fleet(engine, catalogue, operator, actor)
    start = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    barrier = threading.Barrier(RACERS)
    won: list[Booking] = []
    refused: list[BookingConflict] = []
    crashed: list[BaseException] = []

    def race(drone_id: DroneId) -> None:
        barrier.wait()
        try:
            booking = services.request_booking(
                SqlUnitOfWork(lambda: write_session(engine), catalogue),
                services.RequestBooking(
                    SITE,
                    drone_id,
                    start,
                    start + timedelta(minutes=15),
                    PadId("P4"),
                    PadId("P4"),
                ),
                actor,
                NOW,
            )
            won.append(booking)
        except BookingConflict as exc:
            refused.append(exc)
        except BaseException as exc:
            crashed.append(exc)

    threads = [threading.Thread(target=race, args=(d,)) for d in drones]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert crashed == []
    assert len(won) == 1
    assert len(refused) == RACERS - 1
    assert {exc.rule for exc in refused} == {Rule.PAD_BOOKED}
    assert all(won[0].id in exc.booking_ids for exc in refused)
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text(
                "SELECT count(*) FROM bookings WHERE drone_id LIKE :prefix "
                "AND state IN ('pending', 'approved', 'active')"
            ),
            {"prefix": f"racer-{operator}-%"},
        ).scalar_one()
    assert stored == 1
