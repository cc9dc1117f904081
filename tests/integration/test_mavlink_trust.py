"""The MAVLink trust model on a real ``skyberth serve`` over real UDP (issue 16).

Regression for "a second UDP sender using a registered drone's system id was
merged into that drone; nothing was flagged": without signing, a vehicle is pinned
to the first address that spoke for it, and another address using its sysid is
refused, counted and reported as a ``spoofed_frames`` incident. And
``--mavlink-allow`` refuses senders outside the allowed networks.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

from airspace.site_files import demo_site_path, load_site
from tests.integration.live_server import live_server
from tests.integration.sim_world import LiveRecorder, register_and_book
from tests.mavlink_helpers import VehicleEncoder, corridor_point

SITE = load_site(demo_site_path())
SYSID = 41
FAR_LAT_DEG, FAR_LON_DEG = 22.30, 114.20
"""Where the spoofer claims the drone is: kilometres outside every corridor."""


def sender() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def test_a_second_udp_sender_for_a_registered_sysid_is_refused_and_raises_an_incident(
    tmp_path: Path,
) -> None:
    lat, lon, alt = corridor_point(SITE, "C1")
    with live_server(tmp_path, SKYBERTH_LIVE_INTERVAL_MS="0") as server:
        register_and_book(server, "D41", SYSID, corridor="C1", pad="P1", lead_s=0.5)
        time.sleep(0.6)
        url, token = server.ws_url, server.tokens["safety_officer"]
        target = ("127.0.0.1", server.mavlink_port)
        drone, spoofer = sender(), sender()
        real, fake = VehicleEncoder(SYSID), VehicleEncoder(SYSID)
        with LiveRecorder.running(url, token) as live, drone, spoofer:
            for i in range(30):  # 3 s at 10 Hz, the spoofer joining after 1 s
                drone.sendto(real.heartbeat(), target)
                drone.sendto(real.position(lat, lon, alt, 30.0), target)
                if i >= 10:
                    spoofer.sendto(fake.heartbeat(), target)
                    spoofer.sendto(
                        fake.position(FAR_LAT_DEG, FAR_LON_DEG, alt, 30.0), target
                    )
                time.sleep(0.1)
            event = live.wait_for(
                lambda f: (
                    f.get("type") == "event" and f["event"]["kind"] == "spoofed_frames"
                ),
                timeout_s=10,
            )["event"]
            time.sleep(0.5)
            reports = live.vehicles(SYSID)
        assert event["drone_id"] == "D41"
        assert event["details"]["frames"] >= 1
        assert reports, "the real drone is on the map"
        # The drone never moved to the spoofer's position on the live stream.
        assert all(
            abs(v["lat_deg"] - lat) < 1e-4 and abs(v["lon_deg"] - lon) < 1e-4
            for _, v in reports
            if "lat_deg" in v
        )
        assert len({v["key"] for _, v in reports}) == 1  # one vehicle, not merged
        incidents = server.get("safety_officer", "/api/v1/incidents").json()
        kinds = [i["kind"] for i in incidents]
        assert "spoofed_frames" in kinds
        assert not set(kinds) - {"spoofed_frames"}  # no breach was fabricated


def test_senders_outside_mavlink_allow_are_refused(tmp_path: Path) -> None:
    lat, lon, alt = corridor_point(SITE, "C1")
    with live_server(
        tmp_path,
        SKYBERTH_LIVE_INTERVAL_MS="0",
        SKYBERTH_MAVLINK_ALLOW=json.dumps(["10.0.0.0/8"]),
    ) as server:
        url, token = server.ws_url, server.tokens["safety_officer"]
        enc = VehicleEncoder(SYSID)
        with LiveRecorder.running(url, token) as live, sender() as outsider:
            for _ in range(10):
                outsider.sendto(enc.heartbeat(), ("127.0.0.1", server.mavlink_port))
                outsider.sendto(
                    enc.position(lat, lon, alt, 30.0),
                    ("127.0.0.1", server.mavlink_port),
                )
                time.sleep(0.05)
            time.sleep(1.0)
            assert live.vehicles(SYSID) == []
        assert "refused a sender outside the allowed networks" in server.log()
