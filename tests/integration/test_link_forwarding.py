"""SkyBerth shares a vehicle's link with ground stations (``--forward``), over
real UDP sockets against a real ``skyberth serve``.

A "vehicle" socket sends MAVLink to the server's listener; two ground-station
sockets are forward targets. Every datagram of the vehicle reaches both stations
unchanged; a station's frame reaches the vehicle unchanged and not the other
station; a vehicle frame that a station sends back is dropped (no loop). Where
SkyBerth may talk (``SKYBERTH_MAVLINK_TALK``) it sends its own GCS heartbeat with
its configured system id, and asks for telemetry rates only where no other ground
station is heard: ``SET_MESSAGE_INTERVAL`` first, ``REQUEST_DATA_STREAM`` when the
vehicle does not answer.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from tests.conftest import free_port
from tests.integration.live_server import live_server

pytestmark = pytest.mark.slow

VEHICLE_SYSID = 7


class Station:
    """A UDP socket that speaks MAVLink as ``sysid``."""

    def __init__(self, sysid: int, port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.1)
        self.packer = mavlink.MAVLink(None, sysid, 1 if sysid < 200 else 190)
        self.parser = mavlink.MAVLink(None)
        self.parser.robust_parsing = True
        self.datagrams: list[tuple[bytes, tuple[str, int]]] = []

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def send(self, msg: Any, to: tuple[str, int], as_sysid: int | None = None) -> bytes:
        packer = self.packer
        if as_sysid is not None:
            packer = mavlink.MAVLink(None, as_sysid, 190)
        data = bytes(msg.pack(packer))
        self.sock.sendto(data, to)
        return data

    def read(self, for_s: float) -> None:
        deadline = time.monotonic() + for_s
        while time.monotonic() < deadline:
            try:
                self.datagrams.append(self.sock.recvfrom(65536))
            except TimeoutError:
                continue

    def messages(self) -> list[Any]:
        parser = mavlink.MAVLink(None)
        parser.robust_parsing = True
        out: list[Any] = []
        for data, _ in self.datagrams:
            out += parser.parse_buffer(data) or []
        return out

    def close(self) -> None:
        self.sock.close()


def heartbeat(kind: int = mavlink.MAV_TYPE_QUADROTOR) -> Any:
    autopilot = (
        mavlink.MAV_AUTOPILOT_INVALID
        if kind == mavlink.MAV_TYPE_GCS
        else mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA
    )
    return mavlink.MAVLink_heartbeat_message(kind, autopilot, 0, 0, 4, 3)


def wait_until(
    condition: Callable[[], bool], read: Callable[[], None], s: float
) -> None:
    deadline = time.monotonic() + s
    while not condition():
        assert time.monotonic() < deadline, f"not within {s} s"
        read()


@contextmanager
def server_with(tmp_path: Path, **env: str) -> Iterator[int]:
    """A server listening on a fresh UDP port (yielded) with ``env``."""
    port = free_port(socket.SOCK_DGRAM)
    listener = f"udpin:127.0.0.1:{port}"
    with live_server(
        tmp_path,
        SKYBERTH_MAVLINK=json.dumps([listener]),
        SKYBERTH_MAVLINK_TALK=json.dumps([listener]),
        **env,
    ):
        yield port


def test_two_ground_stations_share_the_link_without_loops(tmp_path: Path) -> None:
    first, second = Station(255), Station(254)
    vehicle = Station(VEHICLE_SYSID)
    targets = [f"udpout:127.0.0.1:{s.port}" for s in (first, second)]
    try:
        with server_with(tmp_path, SKYBERTH_FORWARD=json.dumps(targets)) as port:
            server = ("127.0.0.1", port)
            # MAVProxy's own heartbeat on the vehicle link: another GCS is there.
            vehicle.send(heartbeat(mavlink.MAV_TYPE_GCS), server, as_sysid=255)
            sent = vehicle.send(heartbeat(), server)

            def both_have_it() -> bool:
                return all(
                    any(d == sent for d, _ in s.datagrams) for s in (first, second)
                )

            def read_both() -> None:
                first.read(0.2)
                second.read(0.2)

            wait_until(both_have_it, read_both, 10)
            # The station answers to where the frames came from: SkyBerth.
            back_to = next(a for d, a in first.datagrams if d == sent)
            command = mavlink.MAVLink_command_long_message(
                VEHICLE_SYSID, 1, mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH, 0, *[0.0] * 7
            )
            from_first = first.send(command, back_to)
            wait_until(
                lambda: any(d == from_first for d, _ in vehicle.datagrams),
                lambda: vehicle.read(0.2),
                10,
            )
            # A vehicle frame coming round again is not passed on.
            first.sock.sendto(sent, back_to)
            vehicle.read(2.0)
            second.read(0.5)
            first.read(0.5)
    finally:
        for station in (first, second, vehicle):
            station.close()
    assert sum(d == sent for d, _ in vehicle.datagrams) == 0, "looped back"
    assert all(d != from_first for d, _ in second.datagrams), "station to station"
    assert sum(d == sent for d, _ in first.datagrams) == 1
    kinds = [m.get_type() for m in vehicle.messages()]
    # Another ground station is on the link: SkyBerth leaves the rates to it.
    assert "REQUEST_DATA_STREAM" not in kinds
    assert not any(
        m.get_type() == "COMMAND_LONG"
        and m.command == mavlink.MAV_CMD_SET_MESSAGE_INTERVAL
        for m in vehicle.messages()
    )
    beats = [
        m for m in vehicle.messages() if m.get_type() == "HEARTBEAT" and m.type == 6
    ]
    assert beats
    assert {m.get_srcSystem() for m in beats} == {245}


def test_alone_on_the_link_skyberth_asks_for_rates_and_falls_back(
    tmp_path: Path,
) -> None:
    vehicle = Station(VEHICLE_SYSID)
    try:
        with server_with(tmp_path, SKYBERTH_GCS_SYSID="246") as port:
            server = ("127.0.0.1", port)

            def fell_back() -> bool:
                kinds = {m.get_type() for m in vehicle.messages()}
                return "REQUEST_DATA_STREAM" in kinds

            def beat_and_read() -> None:
                vehicle.send(heartbeat(), server)
                vehicle.read(0.5)

            wait_until(fell_back, beat_and_read, 20)
    finally:
        vehicle.close()
    messages = vehicle.messages()
    asks = [
        m
        for m in messages
        if m.get_type() == "COMMAND_LONG"
        and m.command == mavlink.MAV_CMD_SET_MESSAGE_INTERVAL
    ]
    assert asks, "SET_MESSAGE_INTERVAL comes first"
    assert asks[0].param1 == mavlink.MAVLINK_MSG_ID_GLOBAL_POSITION_INT
    assert asks[0].param2 == 200_000  # microseconds: 5 Hz
    assert {m.get_srcSystem() for m in messages} == {246}
    (fallback,) = [m for m in messages if m.get_type() == "REQUEST_DATA_STREAM"]
    assert (fallback.target_system, fallback.req_message_rate) == (VEHICLE_SYSID, 5)
