"""Exports read back by their own readers: the same track in every format."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import pytest
import shapely
from pymavlink import mavutil
from shapely.geometry import LineString, Polygon, shape
from typer.testing import CliRunner

from airspace.site import SiteId
from telemetry.incidents.model import IncidentKind, NewIncident, Severity
from telemetry.mavlink.tlog import TlogWriter
from telemetry.reports.exports import CSV_COLUMNS
from tests.integration.api_world import SITE, World, api_world, drone_body, slot
from tests.integration.incident_scenario import (
    StoredIncident,
    store_booking_track,
    store_drifting_incident,
)
from tests.integration.test_api_incidents import (
    ensure_routes,
    incidents_of,
    site_of,
    tracks_of,
)
from web.cli_export import export_app
from web.settings import Settings

API = "/api/v1"
KML = "{http://www.opengis.net/kml/2.2}"


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    with api_world(settings) as w:
        ensure_routes(w.app)
        yield w


@pytest.fixture
def stored(world: World) -> StoredIncident:
    found = store_drifting_incident(incidents_of(world), site_of(world))
    iid = found.incident_id
    for action, body in [
        ("acknowledge", {"note": "seen <b>live</b>"}),
        ("note", {"text": "<script>alert('x')</script> wind 12 m/s"}),
        ("investigate", {}),
        ("close", {"summary": "Gust; pilot recovered.", "root_cause": "weather"}),
    ]:
        response = world.post(
            "safety_officer", f"{API}/incidents/{iid}/{action}", json=body
        )
        assert response.status_code == 200, response.text
    return found


def export(world: World, who: str, url: str, fmt: str) -> Any:
    response = world.get(who, f"{url}/export?format={fmt}")
    assert response.status_code == 200, (fmt, response.text)
    return response


def xyz(stored: StoredIncident) -> list[float]:
    """The evidence positions as flat lon, lat, alt triples (for approx)."""
    return [v for s in stored.samples for v in (s.lon_deg, s.lat_deg, s.alt_amsl_m)]


def flat(coords: Any) -> list[float]:
    return [float(v) for point in coords for v in point]


def test_geojson_holds_volume_track_samples_and_events(
    world: World, stored: StoredIncident, tmp_path: Path
) -> None:
    url = f"{API}/incidents/{stored.incident_id}"
    response = export(world, "operator", url, "geojson")
    assert response.headers["content-type"] == "application/geo+json"
    assert "skyberth-incident" in response.headers["content-disposition"]
    data = json.loads(response.content)
    by_role: dict[str, list[dict[str, Any]]] = {}
    for feature in data["features"]:
        by_role.setdefault(feature["properties"]["role"], []).append(feature)
    track = shape(by_role["track"][0]["geometry"])
    assert isinstance(track, LineString)
    assert track.has_z
    assert flat(track.coords) == pytest.approx(xyz(stored))
    volume = shape(by_role["volume"][0]["geometry"])
    assert isinstance(volume, Polygon)
    assert volume.equals(stored.volume.outline_lonlat())
    assert by_role["volume"][0]["properties"]["ceiling_amsl_m"] == (
        stored.volume.ceiling_amsl_m
    )
    states = [f["properties"]["state"] for f in by_role["sample"]]
    assert states == [s.state for s in stored.samples]
    assert [f["properties"]["kind"] for f in by_role["event"]][:2] == [
        "opened",
        "state_changed",
    ]
    path = tmp_path / "incident.geojson"
    path.write_bytes(response.content)
    frame = gpd.read_file(path)
    assert len(frame) == len(data["features"])
    assert (frame["role"] == "sample").sum() == len(stored.samples)


def test_kml_extrudes_the_volume_and_draws_a_3d_track(
    world: World, stored: StoredIncident, tmp_path: Path
) -> None:
    url = f"{API}/incidents/{stored.incident_id}"
    response = export(world, "safety_officer", url, "kml")
    assert response.headers["content-type"] == "application/vnd.google-earth.kml+xml"
    root = ET.fromstring(response.content)
    assert root.tag == f"{KML}kml"
    polygons = root.findall(f".//{KML}Polygon")
    extruded = [p for p in polygons if p.findtext(f"{KML}extrude") == "1"]
    assert len(extruded) == 1
    assert extruded[0].findtext(f"{KML}altitudeMode") == "absolute"
    ring = extruded[0].findtext(
        f".//{KML}outerBoundaryIs/{KML}LinearRing/{KML}coordinates"
    )
    assert ring is not None
    heights = {float(c.split(",")[2]) for c in ring.split()}
    assert heights == {stored.volume.ceiling_amsl_m}
    floor = [p for p in polygons if p.findtext(f"{KML}extrude") == "0"]
    assert floor[0].findtext(f"{KML}altitudeMode") == "absolute"
    lines = root.findall(f".//{KML}Placemark/{KML}LineString")
    assert lines[0].findtext(f"{KML}altitudeMode") == "absolute"
    coords = [
        tuple(map(float, c.split(",")))
        for c in (lines[0].findtext(f"{KML}coordinates") or "").split()
    ]
    assert flat(coords) == pytest.approx(xyz(stored), abs=1e-6)
    outside = root.findall(f".//{KML}MultiGeometry/{KML}LineString")
    assert outside, "the nonconforming stretch is drawn apart"
    # Only events during the flight are placed: the workflow came an hour later.
    events = [
        p.findtext(f"{KML}name")
        for p in root.findall(f".//{KML}Placemark")
        if p.find(f"{KML}TimeStamp") is not None
    ]
    assert events == [f"opened (incident {stored.incident_id})"]
    path = tmp_path / "incident.kml"
    path.write_bytes(response.content)
    layers = {name for name, _ in pyogrio.list_layers(path)}
    assert {"Assigned volume", "Track", "Events"} <= layers
    track = gpd.read_file(path, layer="Track")
    assert track.geometry.iloc[0].has_z


def test_csv_has_one_row_per_position(world: World, stored: StoredIncident) -> None:
    url = f"{API}/incidents/{stored.incident_id}"
    response = export(world, "pilot", url, "csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == len(stored.samples)
    assert [float(r["t_s"]) for r in rows] == [s.t_s for s in stored.samples]
    assert [r["state"] for r in rows] == [s.state for s in stored.samples]
    assert {r["phase"] for r in rows} == {"before", "after"}
    assert rows[0]["t_utc"].endswith("Z")


def test_geopackage_layers_read_back_with_geopandas(
    world: World, stored: StoredIncident, tmp_path: Path
) -> None:
    url = f"{API}/incidents/{stored.incident_id}"
    path = tmp_path / "incident.gpkg"
    path.write_bytes(export(world, "site_admin", url, "gpkg").content)
    assert {n for n, _ in pyogrio.list_layers(path)} == {
        "volume",
        "track",
        "samples",
        "events",
        "vessels",
    }
    samples = gpd.read_file(path, layer="samples")
    assert samples.crs.to_epsg() == 4326
    assert list(samples["state"]) == [s.state for s in stored.samples]
    assert list(samples.geometry.z) == pytest.approx(
        [s.alt_amsl_m for s in stored.samples]
    )
    track = gpd.read_file(path, layer="track").geometry.iloc[0]
    assert flat(track.coords) == pytest.approx(xyz(stored))
    volume = gpd.read_file(path, layer="volume")
    assert volume["floor_amsl_m"].iloc[0] == stored.volume.floor_amsl_m
    assert shapely.equals(volume.geometry.iloc[0], stored.volume.outline_lonlat())


def _read_tlog(path: Path) -> list[tuple[float, Any]]:
    log = mavutil.mavlink_connection(str(path))
    found = []
    try:
        while (msg := log.recv_match(type="GLOBAL_POSITION_INT")) is not None:
            found.append((msg._timestamp, msg))
    finally:
        log.close()
    return found


def test_tlog_of_an_incident_holds_its_evidence_frames(
    world: World, stored: StoredIncident, tmp_path: Path
) -> None:
    url = f"{API}/incidents/{stored.incident_id}"
    path = tmp_path / "incident.tlog"
    path.write_bytes(export(world, "operator", url, "tlog").content)
    messages = _read_tlog(path)
    assert [t for t, _ in messages] == pytest.approx([t for t, _ in stored.frames])
    assert [m.lat / 1e7 for _, m in messages] == pytest.approx(
        [s.lat_deg for s in stored.samples], abs=1e-7
    )


def test_html_report_is_one_self_contained_file(
    world: World, stored: StoredIncident
) -> None:
    url = f"{API}/incidents/{stored.incident_id}"
    response = export(world, "operator", url, "html")
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 2
    assert 'class="volume"' in page
    assert 'class="track"' in page
    assert "@media print" in page
    assert "Gust; pilot recovered." in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; wind 12 m/s" in page
    assert "<script" not in page
    assert " src=" not in page
    assert "<link" not in page
    for action in ("incident.acknowledged", "incident.noted", "incident.closed"):
        assert action in page
    assert page.count("<tr><td class=mono>") >= 4  # audit rows
    assert "safety_officer" in page
    assert "near_edge_m" in page


def test_booking_exports_share_the_track_and_serve_the_recording(
    world: World, settings: Settings, tmp_path: Path
) -> None:
    assert world.post("operator", f"{API}/drones", json=drone_body("d1", 7))
    booked = world.post(
        "operator",
        f"{API}/bookings",
        json={"site_id": SITE, "drone_id": "d1", "corridor_id": "C1", **slot(1, 10)},
    )
    assert booked.status_code == 201, booked.text
    bid = booked.json()["id"]
    url = f"{API}/bookings/{bid}"
    assert world.get("operator", f"{url}/export?format=tlog").status_code == 404
    track = store_booking_track(tracks_of(world), site_of(world), bid)
    store_drifting_incident(incidents_of(world), site_of(world), booking_id=bid)

    rows = list(csv.DictReader(io.StringIO(export(world, "operator", url, "csv").text)))
    assert [float(r["t_s"]) for r in rows] == [s.t_s for s in track]
    assert {r["battery_pct"] for r in rows} == {"80.0"}
    data = json.loads(export(world, "pilot", url, "geojson").content)
    line = next(f for f in data["features"] if f["properties"]["role"] == "track")
    assert len(line["geometry"]["coordinates"]) == len(track)
    page = export(world, "operator", url, "html").text
    assert f"Booking {bid}" in page
    assert "booking.requested" in page
    kml = ET.fromstring(export(world, "operator", url, "kml").content)
    assert kml.find(f".//{KML}Polygon/{KML}extrude") is not None

    recording = settings.tlog_dir / SITE / f"booking-{bid}.tlog"
    recording.parent.mkdir(parents=True)
    with TlogWriter(recording) as writer:
        for t_s, raw in store_drifting_incident(
            incidents_of(world), site_of(world), drone_id="d9"
        ).frames:
            writer.write(t_s, raw)
    served = export(world, "operator", url, "tlog")
    assert served.content == recording.read_bytes()
    assert world.get("rival", f"{url}/export?format=csv").status_code == 404
    bad = world.get("operator", f"{url}/export?format=shp")
    assert bad.status_code == 422


def test_cli_exports_the_same_files(
    world: World, stored: StoredIncident, settings: Settings, tmp_path: Path
) -> None:
    env = {
        "SKYBERTH_DATA_DIR": str(settings.data_dir),
        "SKYBERTH_DATABASE_URL": settings.effective_database_url,
    }
    runner = CliRunner()
    out = tmp_path / "cli.csv"
    iid = str(stored.incident_id)
    args = ["incident", iid, "--format", "csv", "--output", str(out)]
    result = runner.invoke(export_app, args, env=env)
    assert result.exit_code == 0, result.output
    api = export(world, "site_admin", f"{API}/incidents/{iid}", "csv").content
    assert out.read_bytes() == api
    again = runner.invoke(export_app, args, env=env)
    assert again.exit_code == 1
    assert "exists" in again.output
    forced = runner.invoke(export_app, [*args, "--force"], env=env)
    assert forced.exit_code == 0, forced.output
    kml = tmp_path / "cli.kml"
    result = runner.invoke(
        export_app, ["incident", iid, "-f", "kml", "-o", str(kml)], env=env
    )
    assert result.exit_code == 0, result.output
    assert ET.parse(kml).getroot().tag == f"{KML}kml"
    missing = runner.invoke(
        export_app,
        ["booking", "424242", "--format", "csv", "--output", str(tmp_path / "x")],
        env=env,
    )
    assert missing.exit_code == 1
    assert "booking 424242 not found" in missing.output
    bad = runner.invoke(
        export_app, ["incident", iid, "--format", "pdf", "-o", "x"], env=env
    )
    assert bad.exit_code == 2


def test_an_incident_without_evidence_still_exports(
    world: World, tmp_path: Path
) -> None:
    bare = NewIncident(
        site_id=SiteId(SITE),
        kind=IncidentKind.UNBOOKED_FLIGHT,
        severity=Severity.WARNING,
        at=datetime.now(UTC),
        vehicle_key="udpin:0.0.0.0:14550/99",
        sysid=99,
        message="an unbooked drone, no positions yet",
    )
    iid, _ = incidents_of(world).open_incident(bare)
    url = f"{API}/incidents/{iid}"
    for fmt in ("geojson", "kml", "csv", "gpkg", "html"):
        export(world, "safety_officer", url, fmt)
    path = tmp_path / "bare.gpkg"
    path.write_bytes(export(world, "safety_officer", url, "gpkg").content)
    assert dict(pyogrio.list_layers(path).tolist()) == {
        "volume": "Polygon",
        "track": "LineString Z",
        "samples": "Point Z",
        "events": "Point Z",
        "vessels": "LineString",
    }
    events = gpd.read_file(path, layer="events")
    assert list(events["kind"]) == ["opened"]
    assert events.geometry.iloc[0] is None
    assert "No positions recorded." in export(world, "site_admin", url, "html").text
    missing = world.get("safety_officer", f"{url}/export?format=tlog")
    assert missing.status_code == 404
    assert "raw MAVLink evidence" in missing.json()["message"]
