"""What ends an active booking (issue 22 item 7), through a real ``skyberth serve``
on SQLite: real MAVLink over UDP, the gateway's landed rule, the booking service.

``SKYBERTH_LANDED_END_S`` is 2 s here (60 s by default) so the flights stay short.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from airspace.site_files import demo_site_path, load_site
from tests.integration.live_server import LiveServer, live_server
from tests.integration.test_live_stream import book_now
from tests.mavlink_helpers import VehicleEncoder, corridor_point

pytestmark = pytest.mark.slow

DEMO = load_site(demo_site_path())
LANDED_END_S = 2.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(
        tmp_path_factory.mktemp("flight-end"),
        SKYBERTH_LANDED_END_S=str(LANDED_END_S),
    ) as running:
        yield running


def send_for(
    server: LiveServer, enc: VehicleEncoder, seconds: float, armed: bool, alt_m: float
) -> None:
    """Heartbeat and position at 5 Hz for ``seconds`` (``alt_m`` above ground)."""
    lat, lon, _ = corridor_point(DEMO, "C1")
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            data = enc.heartbeat(armed) + enc.position(
                lat, lon, DEMO.ground_elev_m + alt_m, alt_m
            )
            udp.sendto(data, ("127.0.0.1", server.mavlink_port))
            time.sleep(0.2)
    finally:
        udp.close()


def state_of(server: LiveServer, booking_id: int) -> str:
    response = server.get("operator", f"/api/v1/bookings/{booking_id}")
    assert response.status_code == 200, response.text
    return str(response.json()["state"])


def wait_state(server: LiveServer, booking_id: int, state: str) -> None:
    deadline = time.monotonic() + 10
    while state_of(server, booking_id) != state:
        assert time.monotonic() < deadline, state_of(server, booking_id)
        time.sleep(0.1)


def test_a_flight_that_lands_and_disarms_completes_its_booking_after_n_s(
    server: LiveServer,
) -> None:
    booking_id = book_now(server, "end-1", 51, "C1")
    enc = VehicleEncoder(51)
    send_for(server, enc, 1.5, armed=True, alt_m=30.0)
    wait_state(server, booking_id, "active")
    landed = time.monotonic()
    send_for(server, enc, LANDED_END_S - 1.0, armed=False, alt_m=0.0)
    assert state_of(server, booking_id) == "active"
    send_for(server, enc, 2.0, armed=False, alt_m=0.0)
    wait_state(server, booking_id, "completed")
    assert time.monotonic() - landed >= LANDED_END_S
    audit = server.get("site_admin", "/api/v1/audit").json()
    entries = audit["items"] if isinstance(audit, dict) else audit
    done = [
        e
        for e in entries
        if e["action"] == "booking.completed" and e["subject_id"] == str(booking_id)
    ]
    assert len(done) == 1
    assert done[0]["actor_id"] == "system:gateway"
    assert "landed and disarmed" in done[0]["note"]


def test_a_touch_and_go_shorter_than_n_s_keeps_the_booking_active(
    server: LiveServer,
) -> None:
    booking_id = book_now(server, "end-2", 52, "C1")
    enc = VehicleEncoder(52)
    send_for(server, enc, 1.5, armed=True, alt_m=30.0)
    wait_state(server, booking_id, "active")
    for _ in range(2):
        send_for(server, enc, LANDED_END_S - 1.2, armed=False, alt_m=0.0)
        send_for(server, enc, 1.0, armed=True, alt_m=5.0)
    send_for(server, enc, 1.0, armed=True, alt_m=20.0)
    assert state_of(server, booking_id) == "active"


def test_the_pilot_ends_an_active_booking(server: LiveServer) -> None:
    booking_id = book_now(server, "end-3", 53, "C1")
    send_for(server, VehicleEncoder(53), 1.5, armed=True, alt_m=30.0)
    wait_state(server, booking_id, "active")
    response = server.post("pilot", f"/api/v1/bookings/{booking_id}/complete")
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "completed"
    again = server.post("pilot", f"/api/v1/bookings/{booking_id}/complete")
    assert again.status_code == 409, again.text
