"""``sim --api``: a real SkyBerth server (uvicorn in a thread, SQLite file), drones
and bookings made over HTTP, and the simulator flying exactly the booked drones."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
import typer
import uvicorn
from pymavlink.dialects.v20 import ardupilotmega as mavlink
from typer.testing import CliRunner

from booking.model import Role
from simulator.cli import sim
from tests.conftest import free_port
from web.app import create_app
from web.auth import create_access_token
from web.settings import Settings
from web.users import add_user

SITE = "cyberport-pier"
KEY = bytes(range(7, 39))


@dataclass
class Server:
    url: str
    admin: str
    operator: str

    def call(self, token: str, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx2.request(
            method,
            f"{self.url}/api/v1{path}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10.0,
            **kwargs,
        )
        assert response.status_code < 300, response.text
        return response.json()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    settings = Settings(
        env="test",
        data_dir=tmp_path,
        opening_hours="24h",
        mavlink=[f"udpin:127.0.0.1:{free_port(socket.SOCK_DGRAM)}"],
    )
    app = create_app(settings)
    now = datetime.now(UTC)
    tokens = {}
    for name, role, org in (
        ("admin", Role.SITE_ADMIN, None),
        ("operator", Role.OPERATOR, "acme"),
    ):
        add_user(app.state.engine, name, role, "pw-" * 4, now, org)
        tokens[name] = create_access_token(
            name, name, settings.secret_key, now, timedelta(hours=1)
        )
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15.0
    while not uv.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield Server(f"http://127.0.0.1:{port}", tokens["admin"], tokens["operator"])
    finally:
        uv.should_exit = True
        thread.join(timeout=10.0)


def soon() -> datetime:
    """A booking start just ahead of now, taken per booking: one instant for a
    series of bookings fell behind "now" on a busy machine (rule ``in_past``)."""
    return datetime.now(UTC) + timedelta(seconds=2)


def book(server: Server, drone: str, start: datetime, **resources: str) -> int:
    body = {
        "site_id": SITE,
        "drone_id": drone,
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=30)).isoformat(),
        **resources,
    }
    booking = server.call(server.operator, "POST", "/bookings", json=body)
    server.call(server.admin, "POST", f"/bookings/{booking['id']}/approve")
    return int(booking["id"])


@pytest.mark.slow
def test_the_simulator_flies_the_approved_bookings_of_a_running_server(
    server: Server,
) -> None:
    for drone_id, sysid, key in (
        ("d11", 11, None),
        ("d12", 12, KEY),
        ("d13", 13, None),
    ):
        body: dict[str, Any] = {
            "id": drone_id,
            "name": f"Drone {drone_id}",
            "site_id": SITE,
            "mavlink_sysid": sysid,
            "max_takeoff_mass_kg": 4.0,
        }
        if key is not None:
            body["signing_key_hex"] = key.hex()
        server.call(server.operator, "POST", "/drones", json=body)
    book(server, "d11", soon(), corridor_id="C1", takeoff_pad_id="P4")
    book(server, "d12", soon(), corridor_id="C3", takeoff_pad_id="P1")
    pending = {
        "site_id": SITE,
        "drone_id": "d13",
        "start": (start := soon()).isoformat(),
        "end": (start + timedelta(minutes=30)).isoformat(),
        "corridor_id": "C2",
    }
    server.call(server.operator, "POST", "/bookings", json=pending)  # not approved

    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(0.5)
    port = receiver.getsockname()[1]
    application = typer.Typer()
    application.command()(sim)
    args = [
        *("--api", server.url, "--token", server.admin),
        *("--to", f"udpout:127.0.0.1:{port}", "--speed", "20", "--duration-s", "60"),
        *("--signing-key", f"12:{KEY.hex()}", "--intruders", "1"),
    ]
    try:
        result = CliRunner().invoke(application, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        parser = mavlink.MAVLink(None)
        parser.signing.secret_key = KEY  # sysid 12's frames must verify
        parser.signing.allow_unsigned_callback = lambda mav, msg_id: True
        signed_by: dict[int, set[bool]] = {}
        while True:
            try:
                data, _ = receiver.recvfrom(4096)
            except TimeoutError:
                break
            for msg in parser.parse_buffer(data) or ():
                signed_by.setdefault(msg.get_srcSystem(), set()).add(bool(data[2] & 1))
    finally:
        receiver.close()
    assert "Drone d11 (booking" in result.output
    assert "sysid 11, C1 from P4" in result.output
    assert "sysid 12, C3 from P1" in result.output
    assert "sysid 250" in result.output  # the intruder, on a free id
    assert signed_by == {11: {False}, 12: {True}, 250: {False}}
    assert parser.signing.goodsig_count > 0
    assert parser.signing.badsig_count == 0


def test_a_token_the_server_refuses_is_a_clear_error(server: Server) -> None:
    application = typer.Typer()
    application.command()(sim)
    result = CliRunner().invoke(
        application, ["--api", server.url, "--token", "forged"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 2
    assert "HTTP 401" in result.output


def _heard_sysids(receiver: socket.socket) -> set[int]:
    parser = mavlink.MAVLink(None)
    heard: set[int] = set()
    while True:
        try:
            data, _ = receiver.recvfrom(4096)
        except TimeoutError:
            return heard
        heard.update(m.get_srcSystem() for m in parser.parse_buffer(data) or ())


@pytest.mark.slow
def test_two_shards_fly_disjoint_halves_of_the_booked_fleet(server: Server) -> None:
    for sysid in (21, 22, 23, 24):
        server.call(
            server.operator,
            "POST",
            "/drones",
            json={
                "id": f"d{sysid}",
                "name": f"Drone d{sysid}",
                "site_id": SITE,
                "mavlink_sysid": sysid,
                "max_takeoff_mass_kg": 4.0,
            },
        )
    book(server, "d21", soon(), corridor_id="C1")
    book(server, "d22", soon(), corridor_id="C2")
    book(server, "d23", soon(), corridor_id="C3")
    book(server, "d24", soon(), takeoff_pad_id="P2")  # a hover over a pad
    application = typer.Typer()
    application.command()(sim)
    heard: dict[str, set[int]] = {}
    for shard in ("1/2", "2/2"):
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(0.5)
        port = receiver.getsockname()[1]
        args = [
            *("--api", server.url, "--token", server.admin, "--shard", shard),
            *(
                "--to",
                f"udpout:127.0.0.1:{port}",
                "--speed",
                "20",
                "--duration-s",
                "40",
            ),
        ]
        try:
            result = CliRunner().invoke(application, args, env={"COLUMNS": "200"})
            assert result.exit_code == 0, result.output
            heard[shard] = _heard_sysids(receiver)
        finally:
            receiver.close()
    assert heard == {"1/2": {21, 23}, "2/2": {22, 24}}

    only = ["--api", server.url, "--token", server.admin, "--sysids", "99"]
    result = CliRunner().invoke(application, only, env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "--sysids 99" in result.output
