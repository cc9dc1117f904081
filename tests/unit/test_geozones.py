"""Official zone documents (ED-269, ED-318, plain GeoJSON) parsed into zones and
turned into volumes of the demo site."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import shapely

from airspace.geozones import (
    FT_M,
    UNLIMITED_CEILING_M,
    GeoZoneError,
    parse_geozone_document,
    zone_volume,
)
from airspace.site_files import demo_site_path, load_site

SAMPLE = Path(__file__).parents[2] / "airspace" / "data" / "sample_zones.ed269.json"
SITE = load_site(demo_site_path())


def _ed269(**part: Any) -> dict[str, Any]:
    geometry = {
        "uomDimensions": "M",
        "lowerLimit": 0,
        "lowerVerticalReference": "AGL",
        "upperLimit": 50,
        "upperVerticalReference": "AGL",
        "horizontalProjection": {
            "type": "Circle",
            "center": [114.1291, 22.26073],
            "radius": 30,
        },
        **part,
    }
    return {
        "features": [
            {
                "identifier": "Z1",
                "restriction": "PROHIBITED",
                "applicability": [{"permanent": "YES"}],
                "geometry": [geometry],
            }
        ]
    }


def test_reads_the_sample_file_with_validity_and_limits() -> None:
    zones = parse_geozone_document(json.loads(SAMPLE.read_text()))
    assert [z.identifier for z in zones] == ["SBZ001", "SBZ002", "SBZ003"]
    circle, bay, over = zones
    assert circle.circle == (114.1291, 22.26073, 40.0)
    assert circle.valid_from is None
    assert circle.valid_to is None
    assert bay.valid_from == datetime(2098, 1, 1, tzinfo=UTC)
    assert bay.upper_m == pytest.approx(400 * FT_M)
    assert bay.upper_ref == "AMSL"
    assert over.valid_to == datetime(2020, 1, 2, tzinfo=UTC)
    assert "SENSITIVE" in circle.describe()


def test_circle_becomes_a_disc_in_site_metres_with_agl_limits_from_the_ground() -> None:
    (zone,) = parse_geozone_document(_ed269())
    volume = zone_volume(zone, SITE)
    assert volume.outline.area == pytest.approx(3.1416 * 30**2, rel=0.01)
    centre = SITE.projection.geometry_to_metric(shapely.Point(114.1291, 22.26073))
    assert volume.outline.centroid.distance(centre) < 0.01
    assert (volume.floor_amsl_m, volume.ceiling_amsl_m) == (
        SITE.ground_elev_m,
        SITE.ground_elev_m + 50,
    )


def test_zone_without_an_upper_limit_reaches_the_unlimited_ceiling() -> None:
    document = _ed269()
    del document["features"][0]["geometry"][0]["upperLimit"]
    (zone,) = parse_geozone_document(document)
    assert zone_volume(zone, SITE).ceiling_amsl_m == UNLIMITED_CEILING_M


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"horizontalProjection": {"type": "Circle", "center": [22.26, 214.1]}}, "lon"),
        ({"horizontalProjection": {"type": "Line"}}, "Polygon or Circle"),
        ({"upperVerticalReference": "FL"}, "AGL, AMSL or WGS84"),
        ({"lowerLimit": "low"}, "not a number"),
    ],
)
def test_refuses_a_bad_zone_naming_it(change: dict[str, Any], message: str) -> None:
    with pytest.raises(GeoZoneError, match=message):
        parse_geozone_document(_ed269(**change))


def test_refuses_a_document_that_is_not_a_zone_list() -> None:
    with pytest.raises(GeoZoneError, match="no 'features' list"):
        parse_geozone_document({"title": "nothing"})


def test_reads_ed318_feature_collections_and_plain_geojson() -> None:
    square = [[[114.127, 22.259], [114.13, 22.259], [114.13, 22.26], [114.127, 22.259]]]
    document = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "identifier": "E1",
                    "name": [{"text": "禁區", "lang": "zh-HK"}],
                    "type": "PROHIBITED",
                },
                "geometry": {"type": "Polygon", "coordinates": square},
                "layer": {
                    "upper": 100,
                    "upperReference": "AMSL",
                    "lower": 0,
                    "lowerReference": "AMSL",
                    "uom": "ft",
                },
            },
            {
                "type": "Feature",
                "properties": {
                    "id": "G1",
                    "upper_m": 30,
                    "reference": "AGL",
                    "valid_from": "2098-01-01T00:00:00Z",
                    "valid_to": "2098-01-02T00:00:00Z",
                },
                "geometry": {"type": "Polygon", "coordinates": square},
            },
        ],
    }
    ed318, plain = parse_geozone_document(document)
    assert ed318.name == "禁區"
    assert ed318.upper_m == pytest.approx(100 * FT_M)
    assert ed318.restriction == "PROHIBITED"
    assert plain.identifier == "G1"
    assert plain.upper_ref == "AGL"
    assert plain.valid_to == datetime(2098, 1, 2, tzinfo=UTC)
