"""AIS on a real ``skyberth serve`` over real UDP (issue 20).

Sentences are written by pyais' encoder and sent to ``--ais udpin``; the live
stream shows the vessels (snapshot and ``vessels`` frames), a drone flying low
over the maritime corridor's water raises ``vessel_proximity`` for a vessel
heading at it, and a vessel inside the minimum separation opens a
``vessel_separation_breach`` incident.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from pyais import encode_dict

from airspace.site_files import demo_site_path, load_site
from simulator.vessels import crossing_vessel, send_ais
from telemetry.ais import AisLinkCodec
from tests.conftest import free_port
from tests.integration.live_server import live_server
from tests.integration.sim_world import LiveRecorder, register_and_book
from tests.mavlink_helpers import VehicleEncoder

SITE = load_site(demo_site_path())
SYSID = 52
FERRY, BARGE = 477000001, 477000002
KML = "{http://www.opengis.net/kml/2.2}"


def ais(data: Mapping[str, Any]) -> bytes:
    lines = encode_dict(dict(data), sentence_type="VDM")
    return "".join(f"{line}\r\n" for line in lines).encode()


def over_water_point() -> tuple[float, float, float, float, float]:
    """(lat, lon, alt AMSL, x_m, y_m): the maritime corridor's third vertex, low."""
    c2 = SITE.corridor("C2")
    lon, lat = c2.geometry_lonlat.coords[2]
    x, y = SITE.projection.to_metric(lon, lat)
    return lat, lon, c2.volume.floor_amsl_m + 10, float(x), float(y)


def lonlat_at(x_m: float, y_m: float) -> tuple[float, float]:
    lon, lat = SITE.projection.to_lonlat(x_m, y_m)
    return float(lon), float(lat)


def test_vessels_reach_the_map_and_raise_proximity_warning_and_breach(
    tmp_path: Path,
) -> None:
    lat, lon, alt, x, y = over_water_point()
    ais_port = free_port(kind=2)
    with live_server(
        tmp_path,
        SKYBERTH_LIVE_INTERVAL_MS="0",
        SKYBERTH_AIS=f'["udpin:127.0.0.1:{ais_port}"]',
    ) as server:
        register_and_book(server, "D52", SYSID, corridor="C2", pad="P1", lead_s=0.5)
        time.sleep(0.6)
        url, token = server.ws_url, server.tokens["safety_officer"]
        target, ais_target = ("127.0.0.1", server.mavlink_port), ("127.0.0.1", ais_port)
        enc = VehicleEncoder(SYSID)
        # a ferry 600 m east heading west at 15 kn: CPA 0 m in ~78 s
        ferry_lon, ferry_lat = lonlat_at(x + 600, y)
        ferry: dict[str, Any] = {
            "type": 1,
            "mmsi": FERRY,
            "lat": ferry_lat,
            "lon": ferry_lon,
        }
        ferry |= {"speed": 15.0, "course": 270.0, "heading": 270, "status": 0}
        static: dict[str, Any] = {
            "type": 5,
            "mmsi": FERRY,
            "shipname": "NEW WORLD FIRST FERRY",
        }
        static |= {"ship_type": 60, "to_bow": 30, "to_stern": 12}
        with (
            LiveRecorder.running(url, token) as live,
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mav,
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as aiv,
        ):
            aiv.sendto(ais(static), ais_target)
            # 3 s of ferry: its recorded track must span two seconds or more even
            # when a busy loop hands sentences to the AIS log late, in one batch.
            for i in range(30):
                mav.sendto(enc.heartbeat(), target)
                mav.sendto(enc.position(lat, lon, alt, 30.0), target)
                aiv.sendto(ais(ferry), ais_target)
                if i < 20:  # twenty garbage lines, counted below
                    aiv.sendto(b"garbage that is not AIS\r\n", ais_target)
                time.sleep(0.1)
            warning = live.wait_for(
                lambda f: (
                    f.get("type") == "event"
                    and f["event"]["kind"] == "vessel_proximity"
                ),
                timeout_s=10,
            )["event"]
            vessels = live.wait_for(
                lambda f: (
                    f.get("type") == "vessels"
                    and any(v["name"] for v in f["vessels"] if v["mmsi"] == FERRY)
                ),
                timeout_s=5,
            )
            # a barge 20 m away: inside the minimum separation
            barge_lon, barge_lat = lonlat_at(x + 20, y)
            barge = {"type": 18, "mmsi": BARGE, "lat": barge_lat, "lon": barge_lon}
            for _ in range(10):
                mav.sendto(enc.heartbeat(), target)
                mav.sendto(enc.position(lat, lon, alt, 30.0), target)
                aiv.sendto(ais(barge), ais_target)
                time.sleep(0.1)
            breach = live.wait_for(
                lambda f: (
                    f.get("type") == "event"
                    and f["event"]["kind"] == "vessel_separation_breach"
                ),
                timeout_s=10,
            )["event"]
            entered = live.wait_for(
                lambda f: (
                    f.get("type") == "event"
                    and f["event"]["kind"] == "vessel_in_corridor"
                ),
                timeout_s=5,
            )["event"]
        with LiveRecorder.running(url, token) as late:
            snapshot = late.wait_for(lambda f: f.get("type") == "snapshot", timeout_s=5)
        assert warning["drone_id"] == "D52"
        assert warning["severity"] == "warning"
        assert warning["details"]["mmsi"] == FERRY
        assert warning["details"]["dcpa_m"] < 150
        assert "NEW WORLD FIRST FERR" in warning["message"]
        [ferry_row] = [v for v in vessels["vessels"] if v["mmsi"] == FERRY]
        assert ferry_row["sog_kn"] == 15.0
        assert ferry_row["heading_deg"] == 270
        assert ferry_row["length_m"] == 42.0
        assert breach["details"]["mmsi"] == BARGE
        assert breach["incident_id"] is not None
        assert entered["details"]["mmsi"] == BARGE
        assert entered["details"]["corridor_id"] == "C2"
        assert {v["mmsi"] for v in snapshot["vessels"]} >= {FERRY, BARGE}
        incidents = server.get("safety_officer", "/api/v1/incidents").json()
        assert "vessel_separation_breach" in [i["kind"] for i in incidents]
        # The incident's replay carries the vessels heard around it (from the raw
        # AIS recording), and its GeoJSON export a vessel layer.
        track = server.get(
            "safety_officer", f"/api/v1/incidents/{breach['incident_id']}/track"
        ).json()
        assert BARGE in {v["mmsi"] for v in track["vessels"]}
        kml = server.get(
            "safety_officer",
            f"/api/v1/incidents/{breach['incident_id']}/export?format=kml",
        )
        assert kml.status_code == 200, kml.text
        names = [
            m.findtext(f"{KML}name")
            for f in ET.fromstring(kml.content).iter(f"{KML}Folder")
            if f.findtext(f"{KML}name") == "Vessels"
            for m in f.iter(f"{KML}Placemark")
        ]
        assert "NEW WORLD FIRST FERR" in names  # its track spans seconds
        # Bad input is counted per AIS link, never fatal.
        figures = server.get("safety_officer", "/api/v1/telemetry/links").json()
        [ais_link] = [row for row in figures["links"] if "ais_streams" in row]
        [counters] = ais_link["ais_streams"].values()
        assert counters["garbage_lines"] == 20
        assert figures["vessels"] == 2
    # The raw sentences were recorded, stamped, and replay through the codec.
    # Per site (the demo file has one): the incident's replay above read it.
    [day] = list((tmp_path / "ais" / SITE.id).glob("*.nmea"))
    replayed = AisLinkCodec("replay").feed(day.read_bytes(), 0.0)
    assert {m.mmsi for m in replayed.messages} == {FERRY, BARGE}


def test_the_simulators_crossing_ferry_over_udp_warns_the_drone_above(
    tmp_path: Path,
) -> None:
    lat, lon, alt, _, _ = over_water_point()
    ais_port = free_port(kind=2)
    # the simulator's own AIS sender, the ferry crossing where the drone hovers
    ferry = crossing_vessel((lon, lat), at_s=60.0)
    with live_server(
        tmp_path,
        SKYBERTH_LIVE_INTERVAL_MS="0",
        SKYBERTH_AIS=f'["udpin:127.0.0.1:{ais_port}"]',
    ) as server:
        register_and_book(server, "D53", 53, corridor="C2", pad="P1", lead_s=0.5)
        time.sleep(0.6)
        url, token = server.ws_url, server.tokens["pilot"]
        target = ("127.0.0.1", server.mavlink_port)
        enc = VehicleEncoder(53)
        stop = threading.Event()

        def sail() -> None:
            async def main() -> None:
                done = asyncio.Event()
                sender = asyncio.create_task(
                    send_ais(("127.0.0.1", ais_port), [ferry], done, speed=1.0)
                )
                await asyncio.to_thread(stop.wait)  # the test's thread says when
                done.set()
                await sender

            asyncio.run(main())

        sailor = threading.Thread(target=sail)
        with (
            LiveRecorder.running(url, token) as live,
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mav,
        ):
            sailor.start()
            try:
                for _ in range(40):
                    mav.sendto(enc.heartbeat(), target)
                    mav.sendto(enc.position(lat, lon, alt, 30.0), target)
                    time.sleep(0.1)
                warning = live.wait_for(
                    lambda f: (
                        f.get("type") == "event"
                        and f["event"]["kind"] == "vessel_proximity"
                    ),
                    timeout_s=10,
                )["event"]
            finally:
                stop.set()
                sailor.join(timeout=5)
        # a pilot sees the vessel warning of their own drone (vessels: every role)
        assert warning["drone_id"] == "D53"
        assert warning["details"]["mmsi"] == ferry.mmsi
        assert warning["details"]["vessel_name"] == "CROSSING FERRY"
        assert warning["details"]["tcpa_s"] == pytest.approx(60.0, abs=8.0)
        assert warning["details"]["dcpa_m"] < 20
