"""Importing official zones on a real SQLite file: API and CLI, re-import updates,
the zones refuse bookings and show on the site map with their origin."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from shapely.geometry import Polygon
from typer.testing import CliRunner

from tests.integration.api_world import SITE, World, api_world, drone_body, slot
from web.cli import app
from web.settings import Settings
from web.zone_files import read_zone_file

SAMPLE = Path(__file__).parents[2] / "airspace" / "data" / "sample_zones.ed269.json"
URL = f"/api/v1/sites/{SITE}/zones"


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    with api_world(settings) as w:
        yield w


def _sample() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SAMPLE.read_text())
    return document


def test_sample_imports_as_closures_and_reimport_updates_instead_of_duplicating(
    world: World,
) -> None:
    first = world.post(
        "safety_officer", URL, params={"source": "sample"}, json=_sample()
    )
    assert first.status_code == 200, first.text
    assert len(first.json()["created"]) == 2
    assert first.json()["expired"] == ["SBZ003"]

    again = world.post(
        "safety_officer", URL, params={"source": "sample"}, json=_sample()
    )
    assert again.json()["created"] == []
    assert sorted(again.json()["unchanged"]) == sorted(first.json()["created"])

    changed = _sample()
    changed["features"][0]["geometry"][0]["upperLimit"] = 80
    third = world.post("safety_officer", URL, params={"source": "sample"}, json=changed)
    assert third.json()["created"] == []
    assert len(third.json()["updated"]) == 1
    assert third.json()["updated"][0] in first.json()["created"]

    site = world.get("operator", f"/api/v1/sites/{SITE}").json()
    zones = [f for f in site["features"] if f["properties"].get("source")]
    assert sorted(f["properties"]["source_zone_id"] for f in zones) == [
        "SBZ001",
        "SBZ002",
    ]
    circle = next(f for f in zones if f["properties"]["source_zone_id"] == "SBZ001")
    assert circle["properties"]["source"] == "sample"
    assert circle["properties"]["ceiling_amsl_m"] == pytest.approx(85.0)  # 80 AGL + 5
    assert "Official zone SBZ001" in circle["properties"]["reason"]


def test_an_imported_zone_refuses_bookings_of_the_pad_under_it(world: World) -> None:
    world.post("safety_officer", URL, params={"source": "sample"}, json=_sample())
    world.post("operator", "/api/v1/drones", json=drone_body("d1", 1))
    refused = world.post(
        "operator",
        "/api/v1/bookings",
        json={"site_id": SITE, "drone_id": "d1", "takeoff_pad_id": "P2", **slot(1, 10)},
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["rule"] == "closure"
    assert "SBZ001" in refused.json()["message"]


def test_only_site_staff_import_zones_and_bad_documents_are_refused(
    world: World,
) -> None:
    denied = world.post("operator", URL, params={"source": "x"}, json=_sample())
    assert denied.status_code == 403
    bad = world.post("site_admin", URL, params={"source": "x"}, json={"features": 3})
    assert bad.status_code == 422


def test_cli_imports_the_sample_file_and_reimports_without_duplicates(
    tmp_path: Path, clean_env: None
) -> None:
    env = {"SKYBERTH_DATA_DIR": str(tmp_path)}
    args = ["site", "import-zones", str(SAMPLE), "--site", SITE]
    first = CliRunner().invoke(app, args, env=env)
    assert first.exit_code == 0, first.output
    assert "2 new, 0 updated, 0 unchanged, 1 expired" in first.output
    second = CliRunner().invoke(app, args, env=env)
    assert "0 new, 0 updated, 2 unchanged" in second.output


def test_zones_drawn_in_kml_import_too(tmp_path: Path) -> None:
    # KML from GIS tools: 3-D polygons, attributes in ExtendedData.
    square = Polygon([(114.127, 22.259, 0), (114.13, 22.259, 0), (114.13, 22.26, 0)])
    path = tmp_path / "zones.kml"
    gpd.GeoDataFrame(
        {
            "Name": ["Drawn zone"],
            "identifier": ["K1"],
            "upper_m": [30.0],
            "reference": ["AGL"],
            "geometry": [square],
        },
        crs="EPSG:4326",
    ).to_file(path, driver="LIBKML", engine="pyogrio")
    (zone,) = read_zone_file(path)
    assert zone.identifier == "K1"
    assert zone.name == "Drawn zone"
    assert (zone.upper_m, zone.upper_ref) == (30.0, "AGL")
    assert zone.outline_lonlat is not None
    assert not zone.outline_lonlat.has_z
