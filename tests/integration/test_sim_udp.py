"""The simulator over real UDP on loopback: rates, units, MAVLink 1, signing, commands.

A plain asyncio datagram socket on 127.0.0.1 port 0 plays the ground station and
decodes everything with pymavlink's own parser. Runs use time scaling, so a
minute of flight takes a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from airspace.site import Site
from airspace.site_files import demo_site_path, load_site
from simulator.assignments import build_specs, site_entries
from simulator.fleet import Fleet
from simulator.links import Endpoint
from simulator.runner import RunOptions, run_fleet

KEY = bytes(range(100, 132))
GCS = (255, 190)


@cache
def demo() -> Site:
    return load_site(demo_site_path())


@dataclass
class GroundStation(asyncio.DatagramProtocol):
    """Collects datagrams; each must be one whole MAVLink frame."""

    key: bytes | None = None
    datagrams: list[tuple[bytes, tuple[str, int]]] = field(default_factory=list)
    messages: list[Any] = field(default_factory=list)
    transport: asyncio.DatagramTransport | None = None

    def __post_init__(self) -> None:
        self.parser = mavlink.MAVLink(None)
        self.parser.robust_parsing = True
        if self.key is not None:
            self.parser.signing.secret_key = self.key

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.datagrams.append((data, (str(addr[0]), int(addr[1]))))
        self.messages += self.parser.parse_buffer(data) or []

    def of(self, kind: str, sysid: int | None = None) -> list[Any]:
        return [
            m
            for m in self.messages
            if m.get_type() == kind and (sysid is None or m.get_srcSystem() == sysid)
        ]

    def send(self, msg: Any, to: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(msg.pack(mavlink.MAVLink(None, *GCS)), to)


async def ground_station(key: bytes | None = None) -> tuple[GroundStation, int]:
    loop = asyncio.get_running_loop()
    transport, gcs = await loop.create_datagram_endpoint(
        lambda: GroundStation(key), local_addr=("127.0.0.1", 0)
    )
    gcs.transport = transport
    return gcs, int(transport.get_extra_info("sockname")[1])


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait until ``condition()`` holds; fail after ``timeout_s``."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s")
        await asyncio.sleep(0.02)


def fleet(count: int = 1, keys: dict[int, bytes] | None = None, **kwargs: Any) -> Fleet:
    specs = build_specs(
        demo(), site_entries(demo(), count, corridor_id="C1"), keys=keys
    )
    return Fleet(demo(), specs, **kwargs)


def udp(port: int) -> tuple[Endpoint, ...]:
    return (Endpoint("udpout", "127.0.0.1", port),)


async def test_every_stream_arrives_at_its_rate_in_mavlink_units() -> None:
    gcs, port = await ground_station()
    the_fleet = fleet(2, gnss_noise_m=0.0)
    stats = await run_fleet(
        the_fleet, RunOptions(udp(port), speed=25.0, duration_s=40.0)
    )
    await asyncio.sleep(0.1)
    try:
        assert stats.frames_sent == len(gcs.datagrams) > 0
        assert len(gcs.messages) == len(gcs.datagrams)  # one frame per datagram
        assert all(d[0] == 0xFD for d, _ in gcs.datagrams)  # MAVLink 2
        for sysid in (1, 2):
            positions = gcs.of("GLOBAL_POSITION_INT", sysid)
            span_s = (positions[-1].time_boot_ms - positions[0].time_boot_ms) / 1000
            assert span_s > 35.0
            rates = Counter(
                m.get_type() for m in gcs.messages if m.get_srcSystem() == sysid
            )
            expected = {
                "GLOBAL_POSITION_INT": 10.0,
                "HEARTBEAT": 1.0,
                "SYS_STATUS": 1.0,
                "BATTERY_STATUS": 1.0,
                "GPS_RAW_INT": 2.0,
                "VFR_HUD": 2.0,
                "ATTITUDE": 4.0,
            }
            for kind, hz in expected.items():
                assert rates[kind] / span_s == pytest.approx(hz, rel=0.1), kind
            check_units(gcs, sysid)
    finally:
        assert gcs.transport is not None
        gcs.transport.close()


def check_units(gcs: GroundStation, sysid: int) -> None:
    """Positions, speeds, heading and battery agree with one another."""
    site = demo()
    ground_mm = round(site.ground_elev_m * 1000)
    positions = gcs.of("GLOBAL_POSITION_INT", sysid)
    for m in positions:
        assert abs(m.lat / 1e7 - site.ref_lat_deg) < 0.01
        assert abs(m.lon / 1e7 - site.ref_lon_deg) < 0.01
        assert m.alt - m.relative_alt == ground_mm
        assert 0 <= m.hdg < 36000
    assert max(m.relative_alt for m in positions) / 1000 > 30.0  # it climbed
    # The reported velocity (cm/s, NED) matches the motion between samples.
    checked = 0
    for a, b in itertools.pairwise(positions):
        dt = (b.time_boot_ms - a.time_boot_ms) / 1000
        x, y = site.projection.to_metric(
            [a.lon / 1e7, b.lon / 1e7], [a.lat / 1e7, b.lat / 1e7]
        )
        east, north = (x[1] - x[0]) / dt, (y[1] - y[0]) / dt
        if math.hypot(b.vx, b.vy) > 300:  # cruising, not accelerating hard
            assert north == pytest.approx(b.vx / 100, abs=0.6)
            assert east == pytest.approx(b.vy / 100, abs=0.6)
            checked += 1
        climb = (b.alt - a.alt) / 1000 / dt
        assert climb == pytest.approx(-b.vz / 100, abs=0.5)
    assert checked > 50
    hud = gcs.of("VFR_HUD", sysid)
    assert max(h.groundspeed for h in hud) > 5.0
    status = gcs.of("SYS_STATUS", sysid)
    assert all(12_000 < s.voltage_battery < 17_000 for s in status)
    assert status[-1].battery_remaining < status[0].battery_remaining
    beats = gcs.of("HEARTBEAT", sysid)
    assert any(b.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED for b in beats)


async def test_mavlink1_on_request() -> None:
    gcs, port = await ground_station()
    await run_fleet(
        fleet(mavlink1=True), RunOptions(udp(port), speed=50.0, duration_s=5)
    )
    await asyncio.sleep(0.05)
    assert gcs.datagrams
    assert all(d[0] == 0xFE for d, _ in gcs.datagrams)
    assert len(gcs.of("GLOBAL_POSITION_INT", 1)) >= 45
    assert gcs.transport is not None
    gcs.transport.close()


async def test_a_drone_with_a_key_signs_every_frame() -> None:
    gcs, port = await ground_station(key=KEY)
    await run_fleet(
        fleet(keys={1: KEY}), RunOptions(udp(port), speed=50.0, duration_s=5)
    )
    await asyncio.sleep(0.05)
    assert gcs.datagrams
    assert all(d[2] & 0x01 for d, _ in gcs.datagrams)
    assert gcs.parser.signing.goodsig_count == len(gcs.datagrams)
    assert gcs.parser.signing.badsig_count == 0
    assert gcs.transport is not None
    gcs.transport.close()


async def test_return_to_launch_is_acknowledged_and_the_drone_flies_home() -> None:
    gcs, port = await ground_station()
    the_fleet = fleet(gnss_noise_m=0.0)
    task = asyncio.create_task(
        run_fleet(the_fleet, RunOptions(udp(port), speed=60.0, duration_s=300.0))
    )
    try:
        await until(lambda: the_fleet.t_s >= 40.0)
        assert gcs.datagrams
        sim_address = gcs.datagrams[-1][1]
        rtl = mavlink.MAVLink_command_long_message(
            1, 1, mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH, 0, 0, 0, 0, 0, 0, 0, 0
        )
        gcs.send(rtl, sim_address)
        await until(lambda: bool(gcs.of("COMMAND_ACK")))
        (ack,) = gcs.of("COMMAND_ACK")
        assert ack.command == mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH
        assert ack.result == mavlink.MAV_RESULT_ACCEPTED
        assert (ack.target_system, ack.target_component) == GCS
        stats = await asyncio.wait_for(task, 20.0)
    finally:
        task.cancel()
        assert gcs.transport is not None
        gcs.transport.close()
    assert stats.messages_received == 1
    assert stats.sim_s < 200.0  # it came home early, landed, and the run ended
    modes = [b.custom_mode for b in gcs.of("HEARTBEAT")]
    assert 6 in modes  # RTL
    last = gcs.of("GLOBAL_POSITION_INT")[-1]
    x, y = demo().projection.to_metric([last.lon / 1e7], [last.lat / 1e7])
    home = the_fleet.drones[0].spec.plan.takeoff_xy
    assert math.dist((float(x[0]), float(y[0])), home) < 2.0
    assert last.relative_alt < 100  # millimetres: on the pad
    assert not gcs.of("HEARTBEAT")[-1].base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED


async def test_garbage_sent_back_never_stops_the_simulator() -> None:
    gcs, port = await ground_station()
    the_fleet = fleet()
    task = asyncio.create_task(
        run_fleet(the_fleet, RunOptions(udp(port), speed=20.0, duration_s=60.0))
    )
    try:
        await until(lambda: bool(gcs.datagrams))
        sim_address = gcs.datagrams[-1][1]
        assert gcs.transport is not None
        rng = random.Random(5)
        valid = mavlink.MAVLink_command_long_message(
            1, 1, mavlink.MAV_CMD_NAV_LAND, 0, 0, 0, 0, 0, 0, 0, 0
        ).pack(mavlink.MAVLink(None, *GCS))
        for i in range(300):
            junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
            if i % 3 == 0:
                junk = valid[: rng.randrange(1, len(valid))]  # truncated
            elif i % 3 == 1:
                flipped = bytearray(valid)
                flipped[rng.randrange(len(flipped))] ^= 0x10  # bad checksum
                junk = bytes(flipped)
            gcs.transport.sendto(junk, sim_address)
        await asyncio.sleep(0.2)
        assert not gcs.of("COMMAND_ACK")  # nothing valid has arrived yet
        before = len(gcs.datagrams)
        gcs.transport.sendto(valid, sim_address)
        await until(lambda: bool(gcs.of("COMMAND_ACK")))
        await until(lambda: len(gcs.datagrams) > before + 50)
        assert not task.done()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert gcs.transport is not None
        gcs.transport.close()
