"""The booking API end to end on a real SQLite file: the issue's "done when" flow."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from icalendar import Calendar

from booking.model import BookingBumped
from tests.integration.api_world import (
    PASSWORD,
    SITE,
    World,
    api_world,
    drone_body,
    slot,
)
from web.auth import create_access_token
from web.settings import Settings


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    with api_world(settings) as w:
        yield w


def _book(
    world: World, who: str, drone: str, window: dict[str, str], **res: str
) -> Any:
    body = {"site_id": SITE, "drone_id": drone, **window, **res}
    return world.post(who, "/api/v1/bookings", json=body)


def test_book_refuse_overlap_approve_bump_and_export(world: World) -> None:
    token = world.client.post(
        "/api/v1/auth/token", data={"username": "operator", "password": PASSWORD}
    )
    assert token.status_code == 200, token.text
    assert token.json()["token_type"] == "bearer"
    world.tokens["operator"] = token.json()["access_token"]

    for drone_id, sysid in (("d1", 1), ("d2", 2)):
        created = world.post(
            "operator", "/api/v1/drones", json=drone_body(drone_id, sysid)
        )
        assert created.status_code == 201, created.text
        assert created.json()["operator_id"] == "acme"

    window = slot(1, 10)
    first = _book(
        world,
        "operator",
        "d1",
        window,
        takeoff_pad_id="P2",
        landing_pad_id="P2",
        corridor_id="C1",
    )
    assert first.status_code == 201, first.text
    booking = first.json()
    assert booking["state"] == "pending"

    clash = _book(world, "operator", "d2", slot(1, 10, 15), takeoff_pad_id="P2")
    assert clash.status_code == 409
    assert clash.json()["rule"] == "pad_booked"
    assert clash.json()["booking_ids"] == [booking["id"]]
    assert f"booking {booking['id']}" in clash.json()["message"]

    approved = world.post("site_admin", f"/api/v1/bookings/{booking['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"

    closure = world.post(
        "safety_officer",
        "/api/v1/closures",
        json={"site_id": SITE, "pad_id": "P2", "reason": "debris on pad", **window},
    )
    assert closure.status_code == 201, closure.text
    assert [b["id"] for b in closure.json()["bumped"]] == [booking["id"]]
    shown = world.get("operator", f"/api/v1/bookings/{booking['id']}").json()
    assert shown["state"] == "bumped"
    bumps = [e for e in world.app.state.events.recent if isinstance(e, BookingBumped)]
    assert [e.booking_id for e in bumps] == [booking["id"]]

    ics = world.get("operator", "/api/v1/bookings.ics")
    assert ics.status_code == 200
    assert ics.headers["content-type"].startswith("text/calendar")
    (event,) = Calendar.from_ical(ics.content).walk("VEVENT")
    assert str(event["uid"]).startswith(f"booking-{booking['id']}@")
    assert event.decoded("dtstart") == datetime.fromisoformat(window["start"])
    assert event.decoded("dtend") == datetime.fromisoformat(window["end"])
    assert "d1" in str(event["summary"])
    assert "P2" in str(event["summary"])
    assert str(event["status"]) == "CANCELLED"

    features = world.get("pilot", f"/api/v1/sites/{SITE}").json()["features"]
    (closed,) = [f for f in features if f["properties"]["kind"] == "closure"]
    assert closed["properties"]["pad_id"] == "P2"


def test_expired_token_is_a_401_that_says_so(world: World, settings: Settings) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=2)
    stale = create_access_token(
        "operator", "operator", settings.secret_key, long_ago, timedelta(hours=1)
    )
    response = world.client.get(
        "/api/v1/bookings", headers={"Authorization": f"Bearer {stale}"}
    )
    assert response.status_code == 401
    assert "expired at" in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_wrong_password_and_missing_token_are_401(world: World) -> None:
    bad = world.client.post(
        "/api/v1/auth/token", data={"username": "operator", "password": "nope"}
    )
    assert bad.status_code == 401
    anonymous = world.client.get("/api/v1/drones")
    assert anonymous.status_code == 401
    assert "not authenticated" in anonymous.json()["detail"]


def test_wrong_role_is_a_403_naming_the_rule(world: World) -> None:
    world.post("operator", "/api/v1/drones", json=drone_body("d1", 1))
    booking = _book(world, "operator", "d1", slot(1, 9), takeoff_pad_id="P1").json()
    response = world.post("pilot", f"/api/v1/bookings/{booking['id']}/approve")
    assert response.status_code == 403
    assert response.json()["rule"] == "permission"
    closure = world.post(
        "operator",
        "/api/v1/closures",
        json={"site_id": SITE, "pad_id": "P1", "reason": "x", **slot(1, 9)},
    )
    assert closure.status_code == 403


def test_unknown_and_foreign_resources_are_404(world: World) -> None:
    assert world.get("operator", "/api/v1/bookings/999").status_code == 404
    assert world.get("operator", "/api/v1/drones/nope").status_code == 404
    world.post("operator", "/api/v1/drones", json=drone_body("d1", 1))
    booking = _book(world, "operator", "d1", slot(1, 9), takeoff_pad_id="P1").json()
    foreign = world.get("rival", f"/api/v1/bookings/{booking['id']}")
    assert foreign.status_code == 404
    assert foreign.json()["rule"] == "not_found"
    assert (
        world.post("rival", f"/api/v1/bookings/{booking['id']}/cancel").status_code
        == 404
    )
    assert world.get("rival", "/api/v1/bookings").json() == []
    assert (
        world.get("safety_officer", "/api/v1/bookings").json()[0]["id"] == booking["id"]
    )


def test_naive_datetime_is_a_422_naming_the_field(world: World) -> None:
    world.post("operator", "/api/v1/drones", json=drone_body("d1", 1))
    window = slot(1, 9)
    naive = {k: v.removesuffix("+00:00") for k, v in window.items()}
    response = _book(world, "operator", "d1", naive, takeoff_pad_id="P1")
    assert response.status_code == 422
    fields = {tuple(e["loc"]) for e in response.json()["detail"]}
    assert ("body", "start") in fields


def test_site_rules_are_422_with_the_rule(world: World) -> None:
    world.post(
        "operator",
        "/api/v1/drones",
        json=drone_body("heavy", 1, max_takeoff_mass_kg=20),
    )
    heavy = _book(world, "operator", "heavy", slot(1, 9), takeoff_pad_id="P2")
    assert heavy.status_code == 422
    assert heavy.json()["rule"] == "pad_mass"
    night = _book(world, "operator", "heavy", slot(1, 22), takeoff_pad_id="P1")
    assert night.json()["rule"] == "opening_hours"


def test_reject_cancel_and_invalid_transition(world: World) -> None:
    world.post("operator", "/api/v1/drones", json=drone_body("d1", 1))
    a = _book(world, "pilot", "d1", slot(1, 9), corridor_id="C3").json()
    b = _book(world, "operator", "d1", slot(1, 11), corridor_id="C3").json()
    rejected = world.post(
        "site_admin", f"/api/v1/bookings/{a['id']}/reject", json={"reason": "wind"}
    )
    assert rejected.json()["state"] == "rejected"
    assert (
        world.post("operator", f"/api/v1/bookings/{b['id']}/cancel").json()["state"]
        == "cancelled"
    )
    again = world.post("operator", f"/api/v1/bookings/{b['id']}/cancel")
    assert again.status_code == 409
    assert again.json()["rule"] == "transition"
    states = world.get("operator", "/api/v1/bookings", params={"state": "rejected"})
    assert [x["id"] for x in states.json()] == [a["id"]]


def test_list_filters_by_pad_corridor_and_window(world: World) -> None:
    world.post("operator", "/api/v1/drones", json=drone_body("d1", 1))
    early = _book(world, "operator", "d1", slot(2, 8), takeoff_pad_id="P1").json()
    late = _book(world, "operator", "d1", slot(2, 15), corridor_id="C2").json()

    def ids(**params: str) -> list[int]:
        found = world.get("operator", "/api/v1/bookings", params=params).json()
        return [x["id"] for x in found]

    assert ids(pad="P1") == [early["id"]]
    assert ids(corridor="C2") == [late["id"]]
    assert ids(**{"from": slot(2, 12)["start"]}) == [late["id"]]
    assert ids(to=slot(2, 12)["start"]) == [early["id"]]
    assert ids(drone="d1", site=SITE) == [early["id"], late["id"]]
    assert ids(operator="rival") == []


def test_area_closure_in_lon_lat_bumps_the_corridor_booking_under_it(
    world: World,
) -> None:
    world.post("operator", "/api/v1/drones", json=drone_body("d1", 1))
    booking = _book(world, "operator", "d1", slot(3, 10), corridor_id="C1").json()
    lon, lat, d = 114.1289, 22.2606, 0.004
    ring = [
        [lon - d, lat - d],
        [lon + d, lat - d],
        [lon + d, lat + d],
        [lon - d, lat + d],
    ]
    area = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
    body = {
        "site_id": SITE,
        "area": area,
        "floor_m": 0,
        "ceiling_m": 120,
        "reason": "crane lift",
        **slot(3, 9, minutes=180),
    }
    closure = world.post("site_admin", "/api/v1/closures", json=body)
    assert closure.status_code == 201, closure.text
    assert [b["id"] for b in closure.json()["bumped"]] == [booking["id"]]
    assert closure.json()["floor_amsl_m"] == 5.0  # AGL 0 over ground at 5 m AMSL
    closure_id = closure.json()["id"]
    assert world.get("operator", "/api/v1/closures").json()[0]["target_kind"] == "area"
    deleted = world.client.delete(
        f"/api/v1/closures/{closure_id}", headers=world.headers("safety_officer")
    )
    assert deleted.status_code == 200
    assert world.get("operator", "/api/v1/closures").json() == []


def test_self_intersecting_area_is_a_422(world: World) -> None:
    bow = [[114.128, 22.26], [114.13, 22.262], [114.13, 22.26], [114.128, 22.262]]
    body = {
        "site_id": SITE,
        "area": {"type": "Polygon", "coordinates": [[*bow, bow[0]]]},
        "floor_m": 0,
        "ceiling_m": 50,
        "reason": "x",
        **slot(1, 9),
    }
    response = world.post("site_admin", "/api/v1/closures", json=body)
    assert response.status_code == 422
    assert "Self-intersection" in response.text


def test_availability_shows_busy_pads_with_turnaround_and_corridor_load(
    world: World,
) -> None:
    world.post("operator", "/api/v1/drones", json=drone_body("d1", 1))
    world.post("operator", "/api/v1/drones", json=drone_body("d2", 2))
    window = slot(4, 10)
    _book(world, "operator", "d1", window, takeoff_pad_id="P2", corridor_id="C3")
    day = {"from": slot(4, 7)["start"], "to": slot(4, 18, minutes=60)["end"]}
    got = world.get("pilot", f"/api/v1/sites/{SITE}/availability", params=day)
    assert got.status_code == 200, got.text
    pads = {p["pad_id"]: p for p in got.json()["pads"]}
    (busy,) = pads["P2"]["busy"]
    start = datetime.fromisoformat(window["start"])
    assert datetime.fromisoformat(busy["start"]) == start - timedelta(minutes=5)
    assert len(pads["P2"]["free"]) == 2
    assert pads["P1"]["busy"] == []
    corridors = {c["corridor_id"]: c for c in got.json()["corridors"]}
    assert corridors["C3"]["peak_booked"] == 1
    assert corridors["C3"]["full"] == corridors["C3"]["busy"]  # capacity 1
    assert corridors["C1"]["peak_booked"] == 0
    backwards = {"from": day["to"], "to": day["from"]}
    assert (
        world.get(
            "pilot", f"/api/v1/sites/{SITE}/availability", params=backwards
        ).status_code
        == 422
    )
