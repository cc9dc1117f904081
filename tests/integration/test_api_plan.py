"""The booking's fence as ground-station files: the ``.plan`` QGroundControl opens
and MAVProxy's WPL 110 fence file, parsed back and compared with the fence
SkyBerth uploads (the same items, to MAVLink's 1e-7 degree)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from airspace import demo_site_path, load_site
from airspace.booked_volume import booked_outline, booked_volumes
from airspace.fence_plan import fence_lonlat, plan_fence
from telemetry.mavlink.mission_protocol import FenceItem, fence_items
from tests.integration.api_world import SITE, World, api_world, drone_body, slot
from web.settings import Settings


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    with api_world(settings) as w:
        yield w


@pytest.fixture
def booking_id(world: World) -> int:
    assert world.post("operator", "/api/v1/drones", json=drone_body("p1", 9)).is_success
    body = {
        "site_id": SITE,
        "drone_id": "p1",
        **slot(2, 9),
        "takeoff_pad_id": "P1",
        "landing_pad_id": "P1",
        "corridor_id": "C2",
    }
    booked = world.post("operator", "/api/v1/bookings", json=body)
    assert booked.status_code == 201, booked.text
    return int(booked.json()["id"])


def uploaded_items() -> tuple[FenceItem, ...]:
    """The items ``POST /bookings/{id}/fence`` sends for that booking."""
    site = load_site(demo_site_path())
    volumes = booked_volumes(site, "C2", ("P1",))
    plan = plan_fence(site, booked_outline(site, "C2", ("P1",)), volumes)
    rings = fence_lonlat(site, plan)
    return fence_items([(r.inclusion, r.vertices_lonlat) for r in rings])


def test_plan_file_is_qgcs_format_and_holds_the_uploaded_fence(
    world: World, booking_id: int
) -> None:
    answer = world.get("pilot", f"/api/v1/bookings/{booking_id}/plan")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"].endswith('.plan"')
    plan = json.loads(answer.text)
    assert (plan["fileType"], plan["version"]) == ("Plan", 1)
    assert plan["mission"]["version"] == 2
    assert plan["mission"]["items"] == []
    assert len(plan["mission"]["plannedHomePosition"]) == 3
    fence = plan["geoFence"]
    assert fence["version"] == 2
    assert fence["circles"] == []
    assert fence["polygons"][0]["inclusion"] is True
    from_plan = fence_items(
        [
            (p["inclusion"], [(lon, lat) for lat, lon in p["polygon"]])
            for p in fence["polygons"]
        ]
    )
    assert from_plan == uploaded_items()
    (rally,) = plan["rallyPoints"]["points"]  # one pad: P1
    site = load_site(demo_site_path())
    pad = site.pad("P1").geometry_lonlat.centroid
    assert rally[:2] == pytest.approx([pad.y, pad.x], abs=1e-5)


def test_mavproxy_fence_file_holds_the_uploaded_fence(
    world: World, booking_id: int
) -> None:
    answer = world.get("operator", f"/api/v1/bookings/{booking_id}/plan?format=wpl")
    assert answer.status_code == 200, answer.text
    header, *lines = answer.text.splitlines()
    assert header == "QGC WPL 110"
    parsed = []
    for seq, line in enumerate(lines):
        f = line.split("\t")
        assert len(f) == 12
        assert int(f[0]) == seq
        parsed.append(
            FenceItem(
                int(f[3]),
                float(f[4]),
                round(float(f[8]) * 1e7),
                round(float(f[9]) * 1e7),
            )
        )
    assert tuple(parsed) == uploaded_items()


def test_plan_of_another_organisations_booking_is_not_found(
    world: World, booking_id: int
) -> None:
    assert world.get("rival", f"/api/v1/bookings/{booking_id}/plan").status_code == 404
    assert world.get(None, f"/api/v1/bookings/{booking_id}/plan").status_code == 401
