"""Area closures given in the HK1980 Grid (``area_hk1980``, EPSG:2326 easting and
northing in metres), as the bookings page sends them: they land where the same
area given in WGS84 lon/lat lands, and a bad vertex list is a 422 that says why."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
from pyproj import Transformer

from tests.integration.api_world import SITE, World, api_world, drone_body, slot
from web.settings import Settings

PIER_GRID = (831323.165, 813533.596)
PIER_LONLAT = (114.1289, 22.2606)
"""The demo site's reference point in both systems (``tests/unit/test_hk_grid.py``'s
control point, to the millimetre)."""
HALF_SIDE_M = 300.0


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    with api_world(settings) as w:
        yield w


def _grid_square() -> list[list[float]]:
    """A closed square ring centred on the pier's reference point."""
    e, n = PIER_GRID
    d = HALF_SIDE_M
    corners = [[e - d, n - d], [e + d, n - d], [e + d, n + d], [e - d, n + d]]
    return [*corners, corners[0]]


def _closure(world: World, area_member: str, ring: list[list[float]], day: int) -> Any:
    body = {
        "site_id": SITE,
        area_member: {"type": "Polygon", "coordinates": [ring]},
        "floor_m": 0,
        "ceiling_m": 150,
        "alt_ref": "AMSL",
        "reason": "crane lift",
        **slot(day, 9, minutes=180),
    }
    return world.post("safety_officer", "/api/v1/closures", json=body)


def _metres_apart(a: list[float], b: list[float]) -> float:
    """Ground distance between two lon/lat positions a few hundred metres apart."""
    lat = math.radians((a[1] + b[1]) / 2)
    dx = math.radians(a[0] - b[0]) * math.cos(lat) * 6_371_000
    dy = math.radians(a[1] - b[1]) * 6_371_000
    return math.hypot(dx, dy)


def test_area_closure_in_hk1980_lands_where_the_same_area_in_wgs84_lands(
    world: World,
) -> None:
    world.post("operator", "/api/v1/drones", json=drone_body("d1", 1))
    booked = world.post(
        "operator",
        "/api/v1/bookings",
        json={"site_id": SITE, "drone_id": "d1", "corridor_id": "C1", **slot(3, 10)},
    ).json()
    grid_ring = _grid_square()
    # The same square in WGS84, straight from PROJ rather than through SkyBerth.
    to_wgs84 = Transformer.from_crs("EPSG:2326", "EPSG:4326", always_xy=True)
    lonlat_ring = [list(to_wgs84.transform(e, n)) for e, n in grid_ring]

    in_grid = _closure(world, "area_hk1980", grid_ring, day=3)
    in_degrees = _closure(world, "area", lonlat_ring, day=4)

    assert in_grid.status_code == 201, in_grid.text
    assert in_degrees.status_code == 201, in_degrees.text
    assert [b["id"] for b in in_grid.json()["bumped"]] == [booked["id"]]
    assert in_grid.json()["target_kind"] == "area"
    assert in_grid.json()["floor_amsl_m"] == 0.0
    assert in_grid.json()["ceiling_amsl_m"] == 150.0
    (from_grid,) = in_grid.json()["area"]["coordinates"]
    (from_degrees,) = in_degrees.json()["area"]["coordinates"]
    assert len(from_grid) == len(from_degrees) == 5
    # Shapely may start the ring elsewhere; compare each vertex with its nearest.
    worst = max(min(_metres_apart(p, q) for q in from_degrees) for p in from_grid)
    assert worst < 0.5
    # And on the ground: the square is centred on the pier's reference point.
    corners = from_grid[:-1]
    centre = [sum(p[0] for p in corners) / 4, sum(p[1] for p in corners) / 4]
    assert _metres_apart(centre, list(PIER_LONLAT)) < 0.5


@pytest.mark.parametrize(
    ("ring", "member", "says"),
    [
        pytest.param(
            [[114.1289, 22.2606], [114.1319, 22.2606], [114.1319, 22.2636]],
            "area_hk1980",
            ("too_short", "at least 4"),
            id="too-few-positions",
        ),
        pytest.param(
            [
                [114.1289, 22.2606],
                [114.1319, 22.2606],
                [114.1319, 22.2636],
                [114.1289, 22.2606],
            ],
            "area_hk1980",
            ("hk1980_position", "(114.1289, 22.2606) is not in the HK1980 Grid"),
            id="lon-lat-given-as-grid",
        ),
        pytest.param(
            [
                [831323.0, 813533.0],
                [831923.0, 814133.0],
                [831923.0, 813533.0],
                [831323.0, 814133.0],
                [831323.0, 813533.0],
            ],
            "area_hk1980",
            ("invalid_polygon", "invalid polygon: Self-intersection"),
            id="self-intersecting",
        ),
        pytest.param(
            [
                [831323.0, 813533.0],
                [831923.0, 813533.0],
                [831923.0, 814133.0],
                [831323.0, 813533.0],
            ],
            "area",
            ("lonlat_position", "HK1980 Grid easting, northing go in area_hk1980"),
            id="grid-given-as-lon-lat",
        ),
    ],
)
def test_a_bad_vertex_list_is_a_422_that_names_the_problem(
    world: World, ring: list[list[float]], member: str, says: tuple[str, str]
) -> None:
    response = _closure(world, member, ring, day=2)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"][:2] == ["body", member]
    # A code and its values for pages to word (bookings page), and English words.
    kind, words = says
    assert error["type"] == kind
    assert words in error["msg"]
    assert world.get("operator", "/api/v1/closures").json() == []


def _lonlat_triangle() -> list[list[float]]:
    lon, lat = PIER_LONLAT
    return [[lon, lat], [lon + 0.003, lat], [lon, lat + 0.003], [lon, lat]]


def test_a_position_outside_the_grid_comes_with_its_values(world: World) -> None:
    ring = [[114.1289, 22.2606], [114.1319, 22.2606], [114.1319, 22.2636]]
    response = _closure(world, "area_hk1980", [*ring, ring[0]], day=2)
    (error,) = response.json()["detail"]
    assert error["ctx"] == {"easting": 114.1289, "northing": 22.2606}


def test_an_area_given_twice_is_refused(world: World) -> None:
    ring = _grid_square()
    body = {
        "site_id": SITE,
        "area_hk1980": {"type": "Polygon", "coordinates": [ring]},
        "area": {"type": "Polygon", "coordinates": [_lonlat_triangle()]},
        "floor_m": 0,
        "ceiling_m": 150,
        "reason": "x",
        **slot(2, 9),
    }
    response = world.post("site_admin", "/api/v1/closures", json=body)
    assert response.status_code == 422
    assert "give exactly one of" in response.text
