"""Exports carry each position in the HK1980 Grid and its height in mPD, saying how
the mPD was obtained (the site's setting), in CSV, GeoJSON and GeoPackage."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest

from airspace.hk_grid import to_hk1980
from telemetry.reports.exports import GRID_COLUMNS
from tests.integration.api_world import SITE, World, api_world
from tests.integration.incident_scenario import StoredIncident, store_drifting_incident
from tests.integration.test_api_incidents import ensure_routes, incidents_of, site_of
from tests.integration.test_exports import API, export
from web.settings import Settings


def _world(settings: Settings) -> Iterator[tuple[World, StoredIncident]]:
    with api_world(settings) as w:
        ensure_routes(w.app)
        yield w, store_drifting_incident(incidents_of(w), site_of(w))


@pytest.fixture
def approximate(settings: Settings) -> Iterator[tuple[World, StoredIncident]]:
    yield from _world(settings)


@pytest.fixture
def surveyed(settings: Settings) -> Iterator[tuple[World, StoredIncident]]:
    yield from _world(
        settings.model_copy(
            update={
                "mpd_offset_m": {SITE: 1.31},
                "mpd_benchmark": {SITE: "BM pier 7"},
            }
        )
    )


def test_csv_gives_easting_northing_and_approximate_mpd_by_default(
    approximate: tuple[World, StoredIncident],
) -> None:
    world, stored = approximate
    url = f"{API}/incidents/{stored.incident_id}"
    rows = list(csv.DictReader(io.StringIO(export(world, "pilot", url, "csv").text)))
    assert set(GRID_COLUMNS) <= set(rows[0])
    for row, s in zip(rows, stored.samples, strict=True):
        e, n = to_hk1980(s.lon_deg, s.lat_deg)
        assert float(row["easting_m"]) == pytest.approx(float(e), abs=0.001)
        assert float(row["northing_m"]) == pytest.approx(float(n), abs=0.001)
        assert float(row["alt_mpd_m"]) == pytest.approx(s.alt_amsl_m + 1.23, abs=0.01)
        assert "approx" in row["mpd_reference"]


def test_geojson_and_geopackage_use_the_sites_surveyed_offset(
    surveyed: tuple[World, StoredIncident], tmp_path: Path
) -> None:
    world, stored = surveyed
    url = f"{API}/incidents/{stored.incident_id}"
    collection = json.loads(export(world, "pilot", url, "geojson").content)
    samples = [
        f["properties"]
        for f in collection["features"]
        if f["properties"]["role"] == "sample"
    ]
    first = stored.samples[0]
    assert samples[0]["alt_mpd_m"] == pytest.approx(first.alt_amsl_m + 1.31, abs=0.01)
    assert samples[0]["mpd_reference"] == "mPD (offset +1.31 m surveyed at BM pier 7)"
    path = tmp_path / "incident.gpkg"
    path.write_bytes(export(world, "pilot", url, "gpkg").content)
    frame = gpd.read_file(path, layer="samples")
    assert frame["alt_mpd_m"].iloc[0] == pytest.approx(
        first.alt_amsl_m + 1.31, abs=0.01
    )
    assert frame["easting_m"].iloc[0] > 800_000
