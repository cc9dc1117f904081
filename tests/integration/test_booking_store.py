"""The booking store against real databases: mapping, locking, constraints."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session

from airspace.site import CorridorId, PadId, SiteId
from booking import closure_services, drone_services, services
from booking.catalogue import StaticSiteCatalogue
from booking.model import BookingState, ClosedPad, DroneId, OperatorId, Role
from booking.unit_of_work import SqlUnitOfWork
from tests.integration.conftest import seed_user
from web.db import write_session

SITE = SiteId("cyberport-pier")
# 10:00 Hong Kong time, inside the default opening hours, two days ahead.
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
START = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)


def uow(engine: Engine, catalogue: StaticSiteCatalogue) -> SqlUnitOfWork:
    return SqlUnitOfWork(lambda: write_session(engine), catalogue)


def register(engine: Engine, catalogue: StaticSiteCatalogue, operator: str) -> DroneId:
    owner = seed_user(engine, f"op-{uuid.uuid4().hex[:6]}", Role.OPERATOR, operator)
    drone_id = DroneId(f"drone-{uuid.uuid4().hex[:8]}")
    with write_session(engine) as session:
        used = session.execute(sa.text("SELECT count(*) FROM drones")).scalar_one()
    drone_services.register_drone(
        uow(engine, catalogue),
        drone_services.RegisterDrone(
            drone_id, "Test drone", SITE, OperatorId(operator), int(used) + 1, 6.5
        ),
        owner.as_actor(),
        NOW,
    )
    return drone_id


def test_a_booking_round_trips_through_the_store_with_aware_utc_times(
    engine: Engine, catalogue: StaticSiteCatalogue
) -> None:
    operator = f"org-{uuid.uuid4().hex[:6]}"
    drone = register(engine, catalogue, operator)
    actor = seed_user(engine, "pilot", Role.PILOT, operator).as_actor()
    booked = services.request_booking(
        uow(engine, catalogue),
        services.RequestBooking(
            SITE,
            drone,
            START,
            START + timedelta(minutes=30),
            PadId("P1"),
            PadId("P1"),
            CorridorId("C1"),
        ),
        actor,
        NOW,
    )
    with uow(engine, catalogue) as reader:
        stored = reader.bookings.get(booked.id)
    assert stored == booked
    assert stored is not None
    assert stored.window.start.tzinfo is UTC


def test_a_closure_bumps_a_booking_and_the_audit_log_records_both(
    engine: Engine, catalogue: StaticSiteCatalogue
) -> None:
    operator = f"org-{uuid.uuid4().hex[:6]}"
    drone = register(engine, catalogue, operator)
    actor = seed_user(engine, "pilot", Role.PILOT, operator).as_actor()
    safety = seed_user(engine, "safety", Role.SAFETY_OFFICER, None).as_actor()
    start = START + timedelta(hours=3)
    booked = services.request_booking(
        uow(engine, catalogue),
        services.RequestBooking(
            SITE, drone, start, start + timedelta(minutes=20), PadId("P2"), PadId("P2")
        ),
        actor,
        NOW,
    )
    outcome = closure_services.create_closure(
        uow(engine, catalogue),
        closure_services.CreateClosure(
            SITE,
            ClosedPad(PadId("P2")),
            start - timedelta(hours=1),
            start + timedelta(hours=1),
            "pad surface repair",
        ),
        safety,
        NOW,
    )
    assert [b.id for b in outcome.bumped] == [booked.id]
    with uow(engine, catalogue) as reader:
        stored = reader.bookings.get(booked.id)
        actions = [
            row[0]
            for row in reader.session.execute(
                sa.text(
                    "SELECT action FROM audit_log WHERE (subject_kind = 'booking' "
                    "AND subject_id = :b) OR (subject_kind = 'closure' "
                    "AND subject_id = :c) ORDER BY id"
                ),
                {"b": str(booked.id), "c": str(outcome.closure.id)},
            )
        ]
    assert stored is not None
    assert stored.state is BookingState.BUMPED
    assert actions == ["booking.requested", "closure.created", "booking.bumped"]


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_log SET note = 'x'", "DELETE FROM audit_log"]
)
def test_the_database_refuses_to_edit_or_delete_audit_rows(
    engine: Engine, catalogue: StaticSiteCatalogue, statement: str
) -> None:
    register(engine, catalogue, f"org-{uuid.uuid4().hex[:6]}")
    with Session(engine) as session:
        count = session.execute(sa.text("SELECT count(*) FROM audit_log")).scalar_one()
        assert count > 0
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(sa.text(statement))
        session.rollback()


@pytest.mark.postgres
def test_postgres_exclusion_constraint_refuses_overlapping_pad_slots(
    postgres_engine: Engine, catalogue: StaticSiteCatalogue
) -> None:
    operator = f"org-{uuid.uuid4().hex[:6]}"
    drone = register(postgres_engine, catalogue, operator)
    actor = seed_user(postgres_engine, "pilot", Role.PILOT, operator).as_actor()
    start = START + timedelta(hours=5)
    booked = services.request_booking(
        uow(postgres_engine, catalogue),
        services.RequestBooking(
            SITE, drone, start, start + timedelta(minutes=20), PadId("P3"), PadId("P3")
        ),
        actor,
        NOW,
    )
    # Bypass the domain, as a buggy or concurrent writer would: the database refuses.
    with (
        pytest.raises(IntegrityError, match="pad_slots_no_overlap"),
        Session(postgres_engine) as session,
    ):
        session.execute(
            sa.text(
                "INSERT INTO pad_slots (booking_id, site_id, pad_id, start_utc, "
                "end_utc) VALUES (:b, :s, 'P3', :start, :end)"
            ),
            {
                "b": booked.id,
                "s": SITE,
                "start": start + timedelta(minutes=10),
                "end": start + timedelta(minutes=40),
            },
        )
