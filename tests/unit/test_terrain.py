"""Terrain segmentation (issue 18 item 2) against known points of the demo site:
C1 over water, C2's land leg vs its over-water segments, C3 dense urban (its
``terrain`` class), anywhere else open; and the site file's ``terrain`` checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shapely.geometry import LineString

from airspace.errors import SiteValidationError
from airspace.site import Terrain
from airspace.site_files import demo_site_path, load_site
from airspace.terrain import terrain_at

SITE = load_site(demo_site_path())


def along(corridor_id: str, segment: int, fraction: float = 0.5) -> tuple[float, float]:
    """A site-metric point on a centre-line corridor's segment."""
    line = SITE.projection.geometry_to_metric(
        SITE.corridor(corridor_id).geometry_lonlat
    )
    assert isinstance(line, LineString)
    a, b = line.coords[segment], line.coords[segment + 1]
    return (a[0] + (b[0] - a[0]) * fraction, a[1] + (b[1] - a[1]) * fraction)


def centre(corridor_id: str) -> tuple[float, float]:
    p = SITE.corridor(corridor_id).volume.outline.representative_point()
    return p.x, p.y


def test_demo_site_campus_crossing_is_dense_urban() -> None:
    assert SITE.corridor("C3").terrain is Terrain.DENSE_URBAN
    assert SITE.corridor("C1").terrain is None


def test_known_points_get_their_terrain() -> None:
    points = [
        centre("C1"),  # over-water loop
        along("C2", 0),  # the route's land leg (segments 1,2 are water)
        along("C2", 1),
        along("C2", 2),
        along("C3", 1),
        (centre("C1")[0] - 5000, centre("C1")[1] - 5000),  # nowhere booked
    ]
    xs, ys = zip(*points, strict=True)
    got = list(terrain_at(SITE, xs, ys))
    assert got[0] == "water"
    assert got[2:5] == ["water", "water", "dense_urban"]
    assert got[5] == "open"
    assert got[1] in ("open", "water")  # the pier end may sit inside C1


@pytest.mark.parametrize("value", ["forest", "WATER"])
def test_site_file_refuses_an_unknown_terrain(tmp_path: Path, value: str) -> None:
    data = json.loads(demo_site_path().read_text())
    for feature in data["features"]:
        if feature["properties"].get("id") == "C1":
            feature["properties"]["terrain"] = value
    path = tmp_path / "site.geojson"
    path.write_text(json.dumps(data))
    with pytest.raises(SiteValidationError, match="terrain must be one of"):
        load_site(path)
