"""The conformance report API on a real app and SQLite file: figures, roles, CSV;
and its queries on each real database (SQLite, PostgreSQL).

Also the role matrix of ``/reports`` (``test_api_roles`` leaves it to this file).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import Session

from airspace.site import SiteId
from booking.model import BookingId, DroneId, OperatorId
from booking.tables import BookingRow, DroneRow
from telemetry.incidents.model import IncidentKind, NewIncident, Severity, TrackSample
from telemetry.incidents.repository import IncidentRepository
from telemetry.recording.track_store import TrackStore
from tests.integration.api_world import SITE, World, api_world, drone_body, slot
from tests.integration.conftest import seed_operator
from web.app import API_PREFIX
from web.db import write_session
from web.routes import reports
from web.routes.reports import conformance_reports
from web.settings import Settings

URL = "/api/v1/reports/conformance"
BASE = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
PERIOD = {
    "from": (BASE - timedelta(hours=1)).isoformat(),
    "to": (BASE + timedelta(days=1)).isoformat(),
}

# acme, booked (vehicle k1): 0-2 inside, 2-4 outside (one 2 s excursion), 4-5 inside.
# acme's drone d1 unbooked (vehicle k2): 10-12 unassigned (2 s), then on the ground.
# So acme: 7 s of flight, 3 s conforming, 4 s not, 2 excursions of 2 s each.
ACME = {
    "flight_s": 7.0,
    "conforming_s": 3.0,
    "nonconforming_s": 4.0,
    "conforming_pct": 100.0 * 3.0 / 7.0,
    "excursions": 2,
    "excursions_per_flight_hour": 2 * 3600.0 / 7.0,
    "longest_excursion_s": 2.0,
    "link_losses": 2,
    "vehicles": 2,
    "passed": False,
}
# rival, booked (vehicle k3): 2 s inside, nothing else.
RIVAL = {
    "flight_s": 2.0,
    "conforming_pct": 100.0,
    "excursions": 0,
    "longest_excursion_s": 0.0,
    "link_losses": 0,
    "passed": True,
}


@dataclass(frozen=True)
class Flights:
    acme_booking: int
    rival_booking: int


def ensure_routes(app: FastAPI) -> None:
    """Include the reports router unless the app already does."""
    paths = {getattr(route, "path", "") for route in app.routes}
    if f"{API_PREFIX}/reports/conformance" not in paths:
        app.include_router(reports.router, prefix=API_PREFIX)


def stores_of(world: World) -> tuple[IncidentRepository, TrackStore]:
    telemetry = world.app.state.telemetry
    assert isinstance(telemetry.incidents, IncidentRepository)
    assert isinstance(telemetry.tracks, TrackStore)
    return telemetry.incidents, telemetry.tracks


def book(world: World, who: str, drone_id: str, sysid: int, hour: int) -> int:
    registered = world.post(who, "/api/v1/drones", json=drone_body(drone_id, sysid))
    assert registered.status_code == 201, registered.text
    booked = world.post(
        who,
        "/api/v1/bookings",
        json={"site_id": SITE, "drone_id": drone_id, "corridor_id": "C1"}
        | slot(1, hour),
    )
    assert booked.status_code == 201, booked.text
    booking_id: int = booked.json()["id"]
    return booking_id


def sample(
    key: str,
    dt_s: float,
    state: str,
    drone_id: str | None = None,
    booking_id: int | None = None,
) -> TrackSample:
    return TrackSample(
        site_id=SiteId(SITE),
        vehicle_key=key,
        sysid=7,
        t_s=BASE.timestamp() + dt_s,
        lat_deg=22.2615,
        lon_deg=114.1290,
        alt_amsl_m=40.0,
        rel_alt_m=35.0,
        speed_mps=3.0,
        heading_deg=90.0,
        battery_pct=80.0,
        state=state,
        drone_id=DroneId(drone_id) if drone_id else None,
        booking_id=BookingId(booking_id) if booking_id is not None else None,
    )


def lose_link(incidents: IncidentRepository, at: datetime, booking_id: int) -> None:
    incidents.open_incident(
        NewIncident(
            site_id=SiteId(SITE),
            kind=IncidentKind.LINK_LOST,
            severity=Severity.WARNING,
            at=at,
            vehicle_key="k1",
            sysid=7,
            message="Drone d1: link lost",
            drone_id=DroneId("d1"),
            operator_id=OperatorId("acme"),
            booking_id=BookingId(booking_id),
            idempotency_key=uuid.uuid4().hex,
        )
    )


def flight_track(acme: int, rival: int) -> list[TrackSample]:
    """The replay samples of the scenario (``ACME``, ``RIVAL``) and some noise."""
    booked = ["inside", "inside", "outside_lateral", "outside_lateral", "inside"]
    # Out of order on purpose: the report orders by time, not by insertion.
    track = [sample("k1", 5.0, "inside", "d1", acme)] + [
        sample("k1", float(t), s, "d1", acme) for t, s in enumerate(booked)
    ]
    return [
        *track,
        sample("k2", 10.0, "unassigned", "d1"),
        sample("k2", 11.0, "unassigned", "d1"),
        sample("k2", 12.0, "on_ground", "d1"),
        sample("k3", 0.0, "inside", "r1", rival),
        sample("k3", 1.0, "inside", "r1", rival),
        sample("k3", 2.0, "inside", "r1", rival),
        # An unregistered intruder belongs to no operator.
        sample("k9", 0.0, "outside_boundary"),
        sample("k9", 1.0, "outside_boundary"),
        # 'to' is exclusive: a flight starting there is outside the period.
        sample("k1", 86_400.0 + 3600.0, "outside_lateral", "d1", acme),
        sample("k1", 86_400.0 + 3601.0, "outside_lateral", "d1", acme),
    ]


def store_flights_and_link_losses(
    stores: tuple[IncidentRepository, TrackStore], acme: int, rival: int
) -> None:
    incidents, tracks = stores
    tracks.append_track(flight_track(acme, rival))
    lose_link(incidents, BASE + timedelta(seconds=3), acme)
    lose_link(incidents, BASE + timedelta(seconds=30), acme)  # joins: an occurrence
    lose_link(incidents, BASE + timedelta(days=2), acme)  # after the period


def store_flights(world: World) -> Flights:
    acme = book(world, "operator", "d1", 7, 10)
    rival = book(world, "rival", "r1", 8, 12)
    store_flights_and_link_losses(stores_of(world), acme, rival)
    return Flights(acme, rival)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    # Every test here only reads: one world (and its SQLite file) serves them all.
    settings = Settings(
        env="test",
        data_dir=tmp_path_factory.mktemp("reports"),
        http_port=0,
        mavlink=["udpin:127.0.0.1:0"],
    )
    with api_world(settings) as w:
        ensure_routes(w.app)
        store_flights(w)
        yield w


def report(world: World, who: str | None, **params: Any) -> Any:
    return world.get(who, URL, params={**PERIOD, **params})


def by_operator(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["operator_id"]: r for r in body["reports"]}


class TestFigures:
    def test_operator_report_matches_the_hand_computed_flights(
        self, world: World
    ) -> None:
        response = report(world, "safety_officer", operator="acme")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["operator"] == "acme"
        assert body["thresholds"] == {
            "min_conforming_pct": 95.0,
            "max_excursions_per_flight_hour": 18.0,
            "max_excursion_s": 10.0,
        }
        (acme,) = body["reports"]
        assert acme["operator_id"] == "acme"
        assert {k: acme[k] for k in ACME} == ACME
        assert acme["flight_hours"] == 7.0 / 3600.0
        assert acme["longest_excursion"]["vehicle_key"] == "k1"
        assert acme["longest_excursion"]["start_s"] == BASE.timestamp() + 2.0
        assert acme["checks"]["conforming_pct"]["passed"] is False
        assert acme["checks"]["excursions_per_flight_hour"]["passed"] is False
        assert acme["checks"]["longest_excursion_s"]["passed"] is True

    def test_staff_see_every_operator_that_flew(self, world: World) -> None:
        body = report(world, "site_admin").json()
        assert body["operator"] is None
        reports_ = by_operator(body)
        assert sorted(reports_) == ["acme", "rival"]
        assert {k: reports_["rival"][k] for k in RIVAL} == RIVAL
        assert reports_["acme"]["flight_s"] == ACME["flight_s"]

    def test_a_period_without_flights_judges_nothing(self, world: World) -> None:
        later = {
            "from": (BASE + timedelta(days=3)).isoformat(),
            "to": (BASE + timedelta(days=4)).isoformat(),
        }
        body = world.get("operator", URL, params=later).json()
        (acme,) = body["reports"]
        assert acme["flight_s"] == 0.0
        assert acme["conforming_pct"] is None
        assert acme["longest_excursion_s"] is None
        assert acme["passed"] is None
        assert world.get("site_admin", URL, params=later).json()["reports"] == []

    def test_the_period_end_is_exclusive(self, world: World) -> None:
        wider = {**PERIOD, "to": (BASE + timedelta(days=1, hours=2)).isoformat()}
        acme = by_operator(world.get("operator", URL, params=wider).json())["acme"]
        assert acme["flight_s"] == ACME["flight_s"] + 1.0
        assert acme["excursions"] == 3


class TestCsv:
    def test_csv_reads_back_to_the_json_figures(self, world: World) -> None:
        response = report(world, "safety_officer", format="csv")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        assert "conformance.csv" in response.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [r["operator_id"] for r in rows] == ["acme", "rival"]
        acme, rival = rows
        assert acme["from"] == "2026-01-10T07:00:00.000Z"
        assert acme["to"] == "2026-01-11T08:00:00.000Z"
        assert float(acme["flight_s"]) == ACME["flight_s"]
        assert float(acme["conforming_pct"]) == ACME["conforming_pct"]
        assert (
            float(acme["excursions_per_flight_hour"])
            == (ACME["excursions_per_flight_hour"])
        )
        assert int(acme["excursions"]) == 2
        assert int(acme["link_losses"]) == 2
        assert float(acme["min_conforming_pct"]) == 95.0
        assert acme["conforming_pct_passed"] == "False"
        assert acme["longest_excursion_s_passed"] == "True"
        assert acme["passed"] == "False"
        assert rival["passed"] == "True"

    def test_csv_of_an_unflown_operator_leaves_figures_empty(
        self, world: World
    ) -> None:
        later = {
            "from": (BASE + timedelta(days=3)).isoformat(),
            "to": (BASE + timedelta(days=4)).isoformat(),
            "format": "csv",
        }
        (row,) = csv.DictReader(io.StringIO(world.get("pilot", URL, params=later).text))
        assert row["operator_id"] == "acme"
        assert row["conforming_pct"] == ""
        assert row["passed"] == ""


class TestRoles:
    @pytest.mark.parametrize("who", ["operator", "pilot"])
    def test_organisation_roles_get_their_own_report(
        self, world: World, who: str
    ) -> None:
        response = report(world, who)
        assert response.status_code == 200, response.text
        assert response.json()["operator"] == "acme"
        assert list(by_operator(response.json())) == ["acme"]
        own = report(world, who, operator="acme").json()
        assert by_operator(own)["acme"]["flight_s"] == ACME["flight_s"]

    @pytest.mark.parametrize("who", ["operator", "pilot"])
    def test_another_organisation_is_not_found(self, world: World, who: str) -> None:
        response = report(world, who, operator="rival")
        assert response.status_code == 404
        assert response.json()["message"] == "operator rival not found"

    def test_rival_sees_only_its_own(self, world: World) -> None:
        body = report(world, "rival").json()
        assert list(by_operator(body)) == ["rival"]

    @pytest.mark.parametrize("who", ["safety_officer", "site_admin"])
    def test_staff_name_any_operator(self, world: World, who: str) -> None:
        assert list(by_operator(report(world, who, operator="rival").json())) == [
            "rival"
        ]
        missing = report(world, who, operator="nobody")
        assert missing.status_code == 404
        assert missing.json()["message"] == "operator nobody not found"

    def test_anonymous_callers_are_refused(self, world: World) -> None:
        assert report(world, None).status_code == 401
        assert report(world, None, format="csv").status_code == 401


class TestBadInput:
    @pytest.mark.parametrize(
        "params",
        [
            {"from": PERIOD["from"]},
            {"to": PERIOD["to"]},
            {**PERIOD, "from": "yesterday"},
            {**PERIOD, "from": "2026-01-10T07:00:00"},  # naive: not UTC
            {**PERIOD, "format": "xlsx"},
            {**PERIOD, "from": "0001-01-01T00:00:00+01:00"},  # before year 1 in UTC
            {**PERIOD, "to": "9999-12-31T23:59:59-01:00"},  # after 9999 in UTC
        ],
    )
    def test_refuses_a_malformed_query(
        self, world: World, params: dict[str, str]
    ) -> None:
        response = world.get("safety_officer", URL, params=params)
        assert response.status_code == 422, response.text

    @pytest.mark.parametrize("days", [0, -1])
    def test_refuses_an_empty_or_reversed_period(self, world: World, days: int) -> None:
        params = {"from": PERIOD["from"], "to": PERIOD["from"]}
        if days:
            params["to"] = (BASE - timedelta(days=1)).isoformat()
        response = world.get("safety_officer", URL, params=params)
        assert response.status_code == 422
        assert "the period is empty" in response.json()["detail"]


class TestQueriesOnEachDatabase:
    def test_reports_of_every_operator(self, engine: Engine) -> None:
        for op in ("acme", "rival"):
            seed_operator(engine, op)
        with write_session(engine) as session:
            for drone_id, op, sysid in (("d1", "acme", 7), ("r1", "rival", 8)):
                session.add(
                    DroneRow(
                        id=drone_id,
                        name=drone_id,
                        site_id=SITE,
                        operator_id=op,
                        mavlink_sysid=sysid,
                        max_takeoff_mass_kg=4.5,
                    )
                )
            session.flush()
            for booking_id, drone_id, op in ((1, "d1", "acme"), (2, "r1", "rival")):
                session.add(
                    BookingRow(
                        id=booking_id,
                        site_id=SITE,
                        drone_id=drone_id,
                        operator_id=op,
                        requested_by=op,
                        start_utc=BASE,
                        end_utc=BASE + timedelta(hours=1),
                        corridor_id="C1",
                        state="approved",
                    )
                )
        stores = (
            IncidentRepository(lambda: write_session(engine), lambda: Session(engine)),
            TrackStore(lambda: write_session(engine), lambda: Session(engine)),
        )
        store_flights_and_link_losses(stores, 1, 2)
        start = BASE - timedelta(hours=1)
        end = BASE + timedelta(days=1)
        with Session(engine) as session:
            every = conformance_reports(session, start, end, None)
            only = conformance_reports(session, start, end, "rival")
        assert sorted(every) == ["acme", "rival"]
        acme = every["acme"].as_dict()
        assert {k: acme[k] for k in ACME} == ACME
        rival = every["rival"].as_dict()
        assert {k: rival[k] for k in RIVAL} == RIVAL
        assert list(only) == ["rival"]
        assert only["rival"].as_dict() == rival
