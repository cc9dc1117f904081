"""``GET /api/v1/bookings/{id}/flights`` (issue 18 item 1) on a real app and
SQLite database: the booking's recording (a scripted ``.tlog`` written where the
gateway writes it), its replay states and incidents in; flights with the
hand-computed figures out, as JSON and CSV, seen by the booking's roles only."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterator

import pytest

from airspace.site import SiteId
from booking.model import BookingId
from telemetry.incidents.model import TrackSample
from tests.flight_script import T0, out_and_back, records, write_tlog
from tests.integration.api_world import SITE, World, api_world, drone_body, slot
from tests.integration.test_api_incidents import site_of, tracks_of
from web.settings import Settings

API = "/api/v1"


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    with api_world(settings) as w:
        yield w


def booked(world: World) -> int:
    assert world.post("operator", f"{API}/drones", json=drone_body("d1", 11))
    response = world.post(
        "operator",
        f"{API}/bookings",
        json={"site_id": SITE, "drone_id": "d1", "corridor_id": "C1", **slot(1, 10)},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_a_booking_without_a_recording_has_no_flights(world: World) -> None:
    bid = booked(world)
    response = world.get("operator", f"{API}/bookings/{bid}/flights")
    assert response.status_code == 200, response.text
    assert response.json()["flights"] == []


def test_flights_of_a_recorded_booking_carry_the_hand_computed_figures(
    world: World, settings: Settings
) -> None:
    bid = booked(world)
    site = site_of(world)
    second = [
        dataclasses.replace(s, t_s=s.t_s + 100, battery_pct=s.battery_pct - 20)
        for s in out_and_back()
    ]
    write_tlog(
        settings.tlog_dir / SITE / f"booking-{bid}.tlog",
        records(site, out_and_back() + second),
    )
    tracks_of(world).append_track(
        [
            TrackSample(
                site_id=SiteId(SITE),
                vehicle_key="k",
                sysid=11,
                t_s=T0 + t,
                lat_deg=site.ref_lat_deg,
                lon_deg=site.ref_lon_deg,
                alt_amsl_m=25.0,
                rel_alt_m=20.0,
                speed_mps=0.0,
                heading_deg=None,
                battery_pct=None,
                state=state,
                booking_id=BookingId(bid),
            )
            for t, state in [(1, "on_ground"), (3, "inside"), (5, "near_edge")]
        ]
    )
    url = f"{API}/bookings/{bid}/flights"
    body = world.get("safety_officer", url).json()
    assert body["landed_end_s"] == settings.landed_end_s
    first, later = body["flights"]
    assert [first["number"], later["number"]] == [1, 2]
    assert first["flight_time_s"] == pytest.approx(8.0)
    assert first["ground_distance_m"] == pytest.approx(60.0, abs=0.1)
    assert first["max_alt_agl_m"] == pytest.approx(20.0)
    assert first["mean_ground_speed_mps"] == pytest.approx(60 / 9, abs=1e-3)
    assert first["battery_used_pct"] == 9.0
    assert first["takeoff_pad"] == "P1"
    assert first["takeoff_local"].endswith("+08:00")
    assert (first["inside_s"], first["near_edge_s"]) == pytest.approx((2.0, 5.02))
    assert later["battery_takeoff_pct"] == 79.0
    for who in ("operator", "pilot"):
        assert world.get(who, url).json() == body
    rows = list(
        csv.DictReader(io.StringIO(world.get("pilot", f"{url}?format=csv").text))
    )
    assert [float(r["flight_time_s"]) for r in rows] == [
        f["flight_time_s"] for f in body["flights"]
    ]


def test_another_organisation_and_anonymous_see_no_flights(world: World) -> None:
    bid = booked(world)
    url = f"{API}/bookings/{bid}/flights"
    assert world.get("rival", url).status_code == 404
    assert world.get(None, url).status_code == 401
    assert world.get("operator", f"{url}?format=pdf").status_code == 422
