"""One outline everywhere: the API serves the engine's own geometry of a booking.

The map draws corridors from ``outline`` of ``GET /api/v1/sites/{id}`` and a
booking from ``GET /api/v1/bookings/{id}/outline``; both must be the polygons the
conformance engine enforces (``SiteMonitor``'s volumes), to within a centimetre.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from airspace import demo_site_path, load_site
from airspace.site import Site
from telemetry.live.site_monitor import SiteMonitor
from tests.integration.api_world import SITE, World, api_world, drone_body, slot
from web.settings import Settings

TOLERANCE_M = 0.05
"""Hausdorff distance allowed after the lon/lat round trip (the datum shift's
inverse is iterative: millimetres, never the metres a re-buffer is off by)."""


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    with api_world(settings) as w:
        yield w


@pytest.fixture(scope="module")
def site() -> Site:
    return load_site(demo_site_path())


def _metric(site: Site, geojson: dict[str, object]) -> BaseGeometry:
    return site.projection.geometry_to_metric(shape(geojson))


def test_site_corridors_carry_the_engines_outline(world: World, site: Site) -> None:
    features = world.get("pilot", f"/api/v1/sites/{SITE}").json()["features"]
    corridors = [f for f in features if f["properties"]["kind"] == "corridor"]
    engine = SiteMonitor(site)
    assert len(corridors) == len(site.corridors)
    for feature in corridors:
        cid = feature["properties"]["id"]
        enforced = engine._volumes[engine.corridor_index[cid]].outline
        drawn = _metric(site, feature["properties"]["outline"])
        assert drawn.hausdorff_distance(enforced) < TOLERANCE_M, cid


def test_booking_outline_is_the_corridor_and_transits_the_engine_checks(
    world: World, site: Site
) -> None:
    assert world.post("operator", "/api/v1/drones", json=drone_body("o1", 7)).is_success
    booked = world.post(
        "pilot",
        "/api/v1/bookings",
        json={
            "site_id": SITE,
            "drone_id": "o1",
            **slot(1, 10),
            "takeoff_pad_id": "P1",
            "landing_pad_id": "P4",
            "corridor_id": "C1",
        },
    )
    assert booked.status_code == 201, booked.text
    booking_id = booked.json()["id"]

    answer = world.get("pilot", f"/api/v1/bookings/{booking_id}/outline")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["properties"]["corridor_id"] == "C1"
    assert body["properties"]["pad_ids"] == ["P1", "P4"]
    engine = SiteMonitor(site)
    enforced = [
        engine._volumes[engine.corridor_index["C1"]].outline,
        engine._volumes[engine.transit_index[("P1", "C1")]].outline,
        engine._volumes[engine.transit_index[("P4", "C1")]].outline,
    ]
    drawn = _metric(site, body["geometry"])
    union = enforced[0].union(enforced[1]).union(enforced[2])
    assert drawn.hausdorff_distance(union) < TOLERANCE_M
    ceiling = site.corridor("C1").volume.ceiling_amsl_m
    assert body["properties"]["ceiling_amsl_m"] == pytest.approx(ceiling)

    # Another organisation's booking is not there to see.
    assert (
        world.get("rival", f"/api/v1/bookings/{booking_id}/outline").status_code == 404
    )
    assert world.get(None, f"/api/v1/bookings/{booking_id}/outline").status_code == 401
