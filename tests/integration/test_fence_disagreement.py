"""``fence_disagreement`` over real sockets: a real ``skyberth serve`` hears an
aircraft (MAVLink made by pymavlink's encoder, over UDP) flying its booking out
of the corridor while its own FENCE_STATUS keeps saying "inside" (a stale fence
on the aircraft). After the hold time (5 s) the live stream carries one
``fence_disagreement`` warning with both views.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink
from shapely.geometry import Point

from airspace.booked_volume import booked_outline
from airspace.site_files import demo_site_path, load_site
from tests.integration.live_server import LiveServer, live_server
from tests.integration.sim_world import LiveRecorder, register_and_book

pytestmark = pytest.mark.slow

SYSID = 48
ARMED = mavlink.MAV_MODE_FLAG_SAFETY_ARMED | mavlink.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED


def _outside_the_booking() -> tuple[float, float]:
    """(lon, lat) 25 m outside the booked outline of corridor C1 from pad P4."""
    site = load_site(demo_site_path())
    outline = booked_outline(site, "C1", ["P4"])
    x, y = outline.buffer(25.0).exterior.coords[0]
    assert not outline.contains(Point(x, y))
    lons, lats = site.projection.to_lonlat([x], [y])
    return float(lons[0]), float(lats[0])


def _aircraft_frames(packer: Any, t_ms: int, lon: float, lat: float) -> list[bytes]:
    messages = [
        mavlink.MAVLink_heartbeat_message(
            mavlink.MAV_TYPE_QUADROTOR,
            mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA,
            ARMED,
            3,  # AUTO
            mavlink.MAV_STATE_ACTIVE,
            3,
        ),
        mavlink.MAVLink_global_position_int_message(
            t_ms, round(lat * 1e7), round(lon * 1e7), 45_000, 40_000, 0, 0, 0, 0
        ),
        # The aircraft's fence says "inside": no breach, ever.
        mavlink.MAVLink_fence_status_message(0, 0, 0, 0, 0),
    ]
    return [bytes(m.pack(packer)) for m in messages]


def test_an_aircraft_fence_that_sees_no_breach_while_skyberth_does_is_reported(
    tmp_path: Any,
) -> None:
    lon, lat = _outside_the_booking()
    with live_server(tmp_path) as server:
        booking_id = register_and_book(server, "d-1", SYSID, corridor="C1", pad="P4")
        time.sleep(2.0)  # the window opens
        event = _fly_until_disagreement(server, lon, lat)
    assert event["severity"] == "warning"
    assert event["booking_id"] == booking_id
    assert event["details"]["autopilot"] == "inside"
    assert event["details"]["skyberth"] != "inside"
    assert event["details"]["for_s"] >= 5.0
    assert "the autopilot's fence says inside" in event["message"]


def _fly_until_disagreement(server: LiveServer, lon: float, lat: float) -> Any:
    packer = mavlink.MAVLink(None, SYSID, 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    started = time.monotonic()
    try:
        with LiveRecorder.running(server.ws_url, server.tokens["site_admin"]) as live:
            while time.monotonic() - started < 20:
                t_ms = round((time.monotonic() - started) * 1000)
                for frame in _aircraft_frames(packer, t_ms, lon, lat):
                    sock.sendto(frame, ("127.0.0.1", server.mavlink_port))
                found = live.events(kind="fence_disagreement")
                if found:
                    (event,) = found
                    return event
                time.sleep(0.2)
    finally:
        sock.close()
    pytest.fail(f"no fence_disagreement in 20 s:\n{server.log()[-3000:]}")
