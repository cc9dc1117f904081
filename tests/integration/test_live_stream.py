"""From a UDP datagram to a websocket frame, through a real ``skyberth serve``.

A drone is registered and booked through the REST API, real MAVLink (pymavlink's
encoder) goes to the server's UDP port, and a websocket client sees the snapshot,
the drone moving, and the incident of its corridor exit.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from pymavlink import mavutil
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from airspace.site_files import demo_site_path, load_site
from telemetry.live.frames import vehicle_entries
from tests.integration.api_world import SITE, drone_body
from tests.integration.live_server import LiveServer, connect_live, live_server
from tests.mavlink_helpers import VehicleEncoder, corridor_point

pytestmark = pytest.mark.slow

DEMO = load_site(demo_site_path())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("live")) as running:
        yield running


def book_now(server: LiveServer, drone_id: str, sysid: int, corridor: str) -> int:
    response = server.post(
        "operator", "/api/v1/drones", json=drone_body(drone_id, sysid)
    )
    assert response.status_code == 201, response.text
    start = datetime.now(UTC) + timedelta(seconds=1)
    response = server.post(
        "operator",
        "/api/v1/bookings",
        json={
            "site_id": SITE,
            "drone_id": drone_id,
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(),
            "corridor_id": corridor,
        },
    )
    assert response.status_code == 201, response.text
    booking_id = int(response.json()["id"])
    approved = server.post("site_admin", f"/api/v1/bookings/{booking_id}/approve")
    assert approved.status_code == 200, approved.text
    time.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds()) + 0.2)
    return booking_id


async def frames_until(
    ws: ClientConnection, wanted: Any, timeout_s: float = 10.0
) -> list[dict[str, Any]]:
    """Read frames until ``wanted(frame)`` is true; return all read."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            kinds = [f.get("type") for f in seen][-20:]
            raise AssertionError(f"frame not seen in {timeout_s} s; last: {kinds}")
        frame = orjson.loads(await asyncio.wait_for(ws.recv(), remaining))
        seen.append(frame)
        if wanted(frame):
            return seen


def vehicle_of(frame: dict[str, Any], sysid: int) -> dict[str, Any] | None:
    if frame.get("type") != "vehicles":
        return None
    suffix = f"/{sysid}"
    return next((v for v in vehicle_entries(frame) if v["key"].endswith(suffix)), None)


async def test_a_viewer_sees_the_drone_move_and_its_corridor_exit_within_250_ms(
    server: LiveServer,
) -> None:
    booking_id = book_now(server, "live-1", 41, "C1")
    enc = VehicleEncoder(41)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    target = ("127.0.0.1", server.mavlink_port)
    inside = corridor_point(DEMO, "C1")
    outside = corridor_point(DEMO, "C1", outside_by_m=30)
    try:
        async with server.connect("pilot") as ws:
            snapshot = orjson.loads(await ws.recv())
            assert snapshot["type"] == "snapshot"
            assert booking_id in [b["id"] for b in snapshot["bookings"]]
            gateway = snapshot["gateway"]
            assert gateway["type"] == "gateway"
            assert gateway["overloaded"] is False
            assert gateway["links"] == []
            for _ in range(5):
                udp.sendto(enc.heartbeat() + enc.position(*inside, 40.0), target)
                await asyncio.sleep(0.1)
            seen = await frames_until(ws, lambda f: vehicle_of(f, 41) is not None)
            vehicle = vehicle_of(seen[-1], 41)
            assert vehicle is not None
            assert vehicle["drone_id"] == "live-1"
            assert vehicle["booking_id"] == booking_id
            assert vehicle["lat_deg"] == pytest.approx(inside[0], abs=1e-6)

            first_out = time.monotonic()
            for _ in range(3):
                udp.sendto(enc.position(*outside, 40.0), target)
                await asyncio.sleep(0.1)
            seen = await frames_until(
                ws,
                lambda f: (
                    f.get("type") == "event"
                    and f["event"]["kind"] == "corridor_exit_lateral"
                ),
            )
            latency_s = time.monotonic() - first_out
            event = seen[-1]["event"]
            assert event["booking_id"] == booking_id
            assert isinstance(event["incident_id"], int)
            # Two confirming samples 100 ms apart, then tick and database write:
            # well under 350 ms on an idle machine, which bench/gateway.py measures
            # (speed targets live in benchmarks). This bound only catches a breach
            # that is not streamed promptly, also on a busy machine.
            assert latency_s < 2.0
            incidents = [f for f in seen if f.get("type") == "incident"]
            assert [i["incident"]["id"] for i in incidents] == [event["incident_id"]]
        # The first position in the air started the booking's flight.
        booking = server.get("operator", f"/api/v1/bookings/{booking_id}").json()
        assert booking["state"] == "active"
    finally:
        udp.close()
    # Every frame of the booking is recorded as a .tlog pymavlink can read.
    tlog = server.data_dir / "tlogs" / SITE / f"booking-{booking_id}.tlog"
    deadline = time.monotonic() + 15  # files are written every 5 s
    positions: list[Any] = []
    while len(positions) < 8 and time.monotonic() < deadline:
        await asyncio.sleep(0.3)
        if tlog.exists():
            log = mavutil.mavlink_connection(str(tlog), dialect="ardupilotmega")
            try:
                positions = []
                while (m := log.recv_match(type="GLOBAL_POSITION_INT")) is not None:
                    positions.append(m)
            finally:
                log.close()
    assert len(positions) == 8  # 5 inside, 3 outside
    assert positions[0].get_srcSystem() == 41


async def test_a_bad_token_is_closed_with_4401_and_the_reason(
    server: LiveServer,
) -> None:
    async with connect_live(server.ws_url, "not-a-token") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401
    assert "invalid token" in closed.value.rcvd.reason


async def test_the_token_rides_in_the_subprotocol_and_never_reaches_the_log(
    server: LiveServer,
) -> None:
    token = server.tokens["pilot"]
    async with server.connect("pilot") as ws:
        assert ws.subprotocol == "skyberth.live"
        assert orjson.loads(await ws.recv())["type"] == "snapshot"
    # A token in the URL (where access logs and proxies keep it) is refused ...
    async with connect(f"{server.ws_url}?token={token}") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401
    assert "subprotocol" in closed.value.rcvd.reason
    # ... and no log line holds it, though uvicorn logged the request.
    server.get("pilot", f"/api/v1/auth/me?token={token}")
    await asyncio.sleep(0.3)
    log = server.log()
    assert "/ws/live?token=<redacted>" in log
    assert token not in log
    assert token.split(".")[2] not in log


async def test_client_messages_are_bounded_and_never_echoed(
    server: LiveServer,
) -> None:
    async with server.connect("pilot") as ws:
        await ws.recv()  # snapshot
        await ws.send("<script>not json")
        await ws.send(orjson.dumps({"type": "<img src=x onerror=alert(1)>"}).decode())
        errors = await frames_until(ws, lambda f: f.get("type") == "error")
        assert errors[-1]["error"] == "not JSON"
        await asyncio.sleep(1.1)
        await ws.send(orjson.dumps({"type": "<img src=x onerror=alert(1)>"}).decode())
        seen = await frames_until(ws, lambda f: f.get("type") == "error")
        assert "<img" not in orjson.dumps(seen).decode()
        # resync: one snapshot a second, however often it is asked for
        for _ in range(20):
            await ws.send('{"type": "resync"}')
        await ws.send('{"type": "ping"}')
        seen = await frames_until(ws, lambda f: f.get("type") == "pong")
        assert [f["type"] for f in seen].count("snapshot") == 1
    async with server.connect("pilot") as ws:
        await ws.recv()
        await ws.send('{"type": "ping", "pad": "' + "x" * 10_000 + '"}')
        with pytest.raises(ConnectionClosed) as closed:
            await frames_until(ws, lambda _: False)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


async def test_an_operator_never_sees_another_organisations_drone(
    server: LiveServer,
) -> None:
    # A drone of "rival" flies; acme's pilot must not see it, staff must.
    response = server.post("rival", "/api/v1/drones", json=drone_body("rival-1", 42))
    assert response.status_code == 201, response.text
    enc = VehicleEncoder(42)
    lat, lon, alt = corridor_point(DEMO, "C2")
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        async with (
            server.connect("pilot") as pilot,
            server.connect("safety_officer") as staff,
        ):
            await pilot.recv()
            await staff.recv()
            await asyncio.sleep(0.5)  # registration asked for a directory refresh
            for _ in range(5):
                udp.sendto(
                    enc.heartbeat() + enc.position(lat, lon, alt, 40.0),
                    ("127.0.0.1", server.mavlink_port),
                )
                await asyncio.sleep(0.05)
            await frames_until(staff, lambda f: vehicle_of(f, 42) is not None)
            pilot_frames: list[dict[str, Any]] = []
            try:
                while True:
                    pilot_frames.append(
                        orjson.loads(await asyncio.wait_for(pilot.recv(), 0.5))
                    )
            except TimeoutError:
                pass
            assert not [f for f in pilot_frames if vehicle_of(f, 42) is not None]
    finally:
        udp.close()


def test_links_and_metrics_report_the_traffic(
    server: LiveServer, tmp_path: Path
) -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        udp.sendto(
            b"\xfd\x00garbage that is not mavlink", ("127.0.0.1", server.mavlink_port)
        )
    finally:
        udp.close()
    time.sleep(0.2)
    links = server.get("pilot", "/api/v1/telemetry/links").json()
    (link,) = links["links"]
    assert link["link_id"] == f"udpin:127.0.0.1:{server.mavlink_port}"
    assert link["transport"]["datagrams_in"] > 0
    metrics = server.get("pilot", "/metrics").text
    assert "skyberth_vehicles " in metrics
    assert "skyberth_link_bad_input_total{" in metrics
