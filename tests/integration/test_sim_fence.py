"""A ground station uploads a geofence to a simulated drone over real UDP with the
mission protocol (MAV_MISSION_TYPE_FENCE), reads it back, and sees FENCE_STATUS;
a drone told to obey its fence (``fence_rtl``) turns home at the booked fence."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from airspace.booked_volume import booked_outline, booked_volumes
from airspace.fence_plan import fence_lonlat, plan_fence
from airspace.site import Site
from airspace.site_files import demo_site_path, load_site
from simulator.assignments import build_specs, site_entries
from simulator.fleet import Fleet
from simulator.links import Endpoint
from simulator.routes import pad_xy
from simulator.runner import RunOptions, run_fleet
from simulator.scenarios import FenceRtl, LateralDrift
from telemetry.mavlink.mission_protocol import fence_items

GCS = (255, 190)
FENCE = mavlink.MAV_MISSION_TYPE_FENCE


@cache
def demo() -> Site:
    return load_site(demo_site_path())


class GroundStation(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.parser = mavlink.MAVLink(None)
        self.messages: list[Any] = []
        self.address: tuple[str, int] | None = None
        self.transport: Any = None
        self.packer = mavlink.MAVLink(None, *GCS)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.address = (str(addr[0]), int(addr[1]))
        self.messages += self.parser.parse_buffer(data) or []

    def of(self, kind: str) -> list[Any]:
        return [m for m in self.messages if m.get_type() == kind]

    def send(self, msg: Any) -> None:
        self.transport.sendto(msg.pack(self.packer), self.address)


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s")
        await asyncio.sleep(0.01)


def square_around_pad(half_m: float) -> list[Any]:
    """Fence items: an inclusion square of ``half_m`` around pad P4."""
    site = demo()
    pad_x, pad_y = pad_xy(site.pad("P4"))
    corners = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    xs = [pad_x + dx * half_m for dx, _ in corners]
    ys = [pad_y + dy * half_m for _, dy in corners]
    lons, lats = site.projection.to_lonlat(xs, ys)
    return [
        mavlink.MAVLink_mission_item_int_message(
            1,
            1,
            seq,
            mavlink.MAV_FRAME_GLOBAL,
            mavlink.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
            0,
            1,
            4,
            0,
            0,
            0,
            round(float(lat) * 1e7),
            round(float(lon) * 1e7),
            0.0,
            FENCE,
        )
        for seq, (lon, lat) in enumerate(zip(lons, lats, strict=True))
    ]


def booked_fence(corridor_id: str, pad_id: str) -> list[Any]:
    """Fence items: the booking's fence as SkyBerth plans it."""
    site = demo()
    volumes = booked_volumes(site, corridor_id, [pad_id])
    plan = plan_fence(site, booked_outline(site, corridor_id, [pad_id]), volumes)
    rings = fence_lonlat(site, plan)
    items = fence_items([(r.inclusion, r.vertices_lonlat) for r in rings])
    return [
        mavlink.MAVLink_mission_item_int_message(
            1,
            1,
            seq,
            mavlink.MAV_FRAME_GLOBAL,
            item.command,
            0,
            1,
            item.param1,
            0,
            0,
            0,
            item.lat_e7,
            item.lon_e7,
            0.0,
            FENCE,
        )
        for seq, item in enumerate(items)
    ]


async def upload(gcs: GroundStation, items: list[Any]) -> None:
    """Upload ``items`` as the fence and wait for the vehicle's MISSION_ACK."""
    gcs.send(mavlink.MAVLink_mission_count_message(1, 1, len(items), FENCE))

    def acked() -> bool:
        for request in gcs.of("MISSION_REQUEST_INT"):
            if request.seq not in served:
                served.add(request.seq)
                gcs.send(items[request.seq])
        return bool(gcs.of("MISSION_ACK"))

    served: set[int] = set()
    await until(acked)
    (ack,) = gcs.of("MISSION_ACK")
    assert ack.type == mavlink.MAV_MISSION_ACCEPTED


async def test_a_drone_obeying_its_fence_turns_home_when_it_drifts_out() -> None:
    loop = asyncio.get_running_loop()
    transport, gcs = await loop.create_datagram_endpoint(
        GroundStation, local_addr=("127.0.0.1", 0)
    )
    gcs.transport = transport
    port = transport.get_extra_info("sockname")[1]
    (spec,) = build_specs(demo(), site_entries(demo(), 1, corridor_id="C1"))
    drift = LateralDrift(at_s=20.0, overshoot_m=30.0, hold_s=60.0)
    # Take-off after 20 simulated seconds leaves time to upload on the pad.
    spec = replace(spec, takeoff_at_s=20.0, scenarios=(drift, FenceRtl()))
    the_fleet = Fleet(demo(), [spec])
    options = RunOptions((Endpoint("udpout", "127.0.0.1", port),), speed=20.0)
    run = asyncio.create_task(run_fleet(the_fleet, options))
    try:
        await until(lambda: gcs.address is not None)
        await upload(gcs, booked_fence("C1", "P4"))
        await until(lambda: any(s.breach_status for s in gcs.of("FENCE_STATUS")), 30)
        breach_at = len(gcs.messages)
        rtl = 6  # ArduCopter's RTL custom mode

        def returning() -> bool:
            beats = gcs.of("HEARTBEAT")
            return any(b.custom_mode == rtl for b in beats)

        await until(returning, 5)
        # Home, not back to the corridor after hold_s: it lands on its pad.
        pad = demo().pad("P4")
        pad_x, pad_y = pad_xy(pad)

        def landed_home() -> bool:
            positions = [
                m
                for m in gcs.messages[breach_at:]
                if m.get_type() == "GLOBAL_POSITION_INT"
            ]
            if not positions:
                return False
            last = positions[-1]
            x, y = demo().projection.to_metric([last.lon / 1e7], [last.lat / 1e7])
            near = abs(float(x[0]) - pad_x) < 5 and abs(float(y[0]) - pad_y) < 5
            return near and last.relative_alt < 1_000  # mm above home

        await until(landed_home, 30)
    finally:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        transport.close()


async def test_a_fence_uploads_reads_back_and_its_breach_is_reported() -> None:
    loop = asyncio.get_running_loop()
    transport, gcs = await loop.create_datagram_endpoint(
        GroundStation, local_addr=("127.0.0.1", 0)
    )
    gcs.transport = transport
    port = transport.get_extra_info("sockname")[1]
    specs = build_specs(demo(), site_entries(demo(), 1, corridor_id="C1"))
    assert specs[0].plan.takeoff_xy == pad_xy(demo().pad("P4"))
    # Take-off after 20 simulated seconds leaves time to upload on the pad.
    the_fleet = Fleet(demo(), [replace(specs[0], takeoff_at_s=20.0)])
    options = RunOptions((Endpoint("udpout", "127.0.0.1", port),), speed=40.0)
    run = asyncio.create_task(run_fleet(the_fleet, options))
    try:
        await until(lambda: gcs.address is not None)
        items = square_around_pad(30.0)
        gcs.send(mavlink.MAVLink_mission_count_message(1, 1, len(items), FENCE))
        served: list[int] = []

        def acked() -> bool:
            for request in gcs.of("MISSION_REQUEST_INT")[len(served) :]:
                assert request.mission_type == FENCE
                assert (request.target_system, request.target_component) == GCS
                served.append(request.seq)
                gcs.send(items[request.seq])
            return bool(gcs.of("MISSION_ACK"))

        await until(acked)
        assert served == [0, 1, 2, 3]
        (ack,) = gcs.of("MISSION_ACK")
        assert (ack.type, ack.mission_type) == (mavlink.MAV_MISSION_ACCEPTED, FENCE)

        gcs.send(mavlink.MAVLink_mission_request_list_message(1, 1, FENCE))
        await until(lambda: bool(gcs.of("MISSION_COUNT")))
        assert gcs.of("MISSION_COUNT")[0].count == 4
        for seq in range(4):
            gcs.send(mavlink.MAVLink_mission_request_int_message(1, 1, seq, FENCE))
        await until(lambda: len(gcs.of("MISSION_ITEM_INT")) == 4)
        read_back = sorted(gcs.of("MISSION_ITEM_INT"), key=lambda m: m.seq)
        assert [(m.x, m.y, m.command) for m in read_back] == [
            (m.x, m.y, m.command) for m in items
        ]

        # On the pad, inside the square: no breach. Off to the corridor: breach.
        await until(lambda: bool(gcs.of("FENCE_STATUS")))
        assert gcs.of("FENCE_STATUS")[0].breach_status == 0
        await until(lambda: any(s.breach_status for s in gcs.of("FENCE_STATUS")), 30)
        breach = next(s for s in gcs.of("FENCE_STATUS") if s.breach_status)
        assert breach.breach_type == mavlink.FENCE_BREACH_BOUNDARY
        assert breach.breach_count == 1
        assert breach.breach_time > 20_000  # after take-off, in ms since boot
    finally:
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
        transport.close()
