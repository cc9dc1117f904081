"""``ingest``'s shortcut for the usual datagram leaves the gateway exactly as its
general path does.

Two gateways with the same site and fleet directory take the same datagrams at
the same times and tick at the same instants: one through ``ingest`` (the
shortcut wherever it applies), the reference through ``ingest_general`` (every
datagram through the codec's ``feed`` and the general loops). After every tenth
tick and at the end both must hold the same vehicles, field for field (floats by
their exact ``repr``), the same position and raw-frame rings byte for byte, the
same tlog records, codec counters, refusals and spoof counts, and must have
published the same frames to a staff viewer.

The traffic is the simulator's fleet over the demo site (a drifting drone, an
altitude bust, a signing drone, an intruder), with what the shortcut must leave
to the general path mixed in: an ArduCopter stream in MAVLink 1, several frames
in one datagram, damaged datagrams, a sender spoofing a pinned drone's address,
non-hot messages. The test also checks that the shortcut took most datagrams, so
agreement is not the general path agreeing with itself.
"""

from __future__ import annotations

import json
import marshal
import random
from dataclasses import replace
from typing import Any

import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from airspace.site_files import demo_site_path, load_site
from simulator.assignments import build_specs, site_entries
from simulator.fleet import Fleet
from simulator.scenarios import AltitudeBust, LateralDrift
from telemetry.live.fleet import BookingEntry, DroneEntry, FleetDirectory
from telemetry.live.gateway import Gateway
from telemetry.live.hub import Audience, LiveHub, Subscriber
from telemetry.live.ingest import ingest_general
from telemetry.live.vehicles import VehicleState
from telemetry.mavlink.codec import LinkCodec
from telemetry.mavlink.fast_codec import HOT_MESSAGE_IDS
from tests.harness.autopilot_streams import ardupilot_copter

WALL_S = 1_800_000_000.0
TICK_S = 0.02
KEY = bytes(range(32))
SIGNING_SYSID = 3
LINK = "udpin:0.0.0.0:14550"
SPOOFER = ("10.9.9.9", 40000)
FIELDS = tuple(name for name in VehicleState.__slots__ if not name.startswith("_"))


def sender(sysid: int) -> tuple[str, int]:
    return ("10.0.0.1", 14550 + sysid)


def sysid_of(frame: bytes) -> int:
    return frame[5] if frame[0] == mavlink.PROTOCOL_MARKER_V2 else frame[3]


def traffic(
    seconds: float,
) -> tuple[Any, FleetDirectory, list[tuple[float, bytes, Any]]]:
    """The site, its directory and (t_s, datagram, sender) in arrival order."""
    site = load_site(demo_site_path())
    entries = site_entries(site, 4)
    specs = build_specs(site, entries, keys={SIGNING_SYSID: KEY}, intruders=1)
    specs[0] = replace(specs[0], scenarios=(LateralDrift(at_s=15.0, hold_s=8.0),))
    specs[1] = replace(specs[1], scenarios=(AltitudeBust(at_s=18.0, hold_s=6.0),))
    drones, bookings = [], []
    for i, entry in enumerate(entries):
        sysid = entry.sysid
        assert sysid is not None  # site_entries numbers every drone
        drone_id = f"d{sysid}"
        key = KEY if sysid == SIGNING_SYSID else None
        drones.append(DroneEntry(drone_id, drone_id, site.id, "op", sysid, key))
        bookings.append(
            BookingEntry(
                i + 1,
                drone_id,
                site.id,
                "op",
                entry.corridor_id,
                WALL_S - 600,
                WALL_S + 7200,
                "approved",
                entry.takeoff_pad_id,
                entry.takeoff_pad_id,
            )
        )
    fleet = Fleet(site, specs, seed=5, gcs_heartbeat=True)
    out: list[tuple[float, bytes, Any]] = []
    while fleet.t_s < seconds:
        wall_s = WALL_S + fleet.t_s
        out.extend(
            (wall_s, frame, sender(sysid_of(frame))) for frame in fleet.step(wall_s)
        )
    rng = random.Random(11)
    # An unregistered ArduCopter in MAVLink 1 and another in MAVLink 2 (with its
    # parameter and radio messages), spread over the same time.
    for sysid, mavlink1 in ((40, True), (41, False)):
        frames = ardupilot_copter(seconds, sysid=sysid, seed=sysid, mavlink1=mavlink1)
        step = seconds / len(frames)
        out.extend(
            (WALL_S + i * step, frame, sender(sysid)) for i, frame in enumerate(frames)
        )
    out.sort(key=lambda item: item[0])
    mixed: list[tuple[float, bytes, Any]] = []
    for t_s, frame, source in out:
        roll = rng.random()
        if roll < 0.01:  # damaged in transit
            at = rng.randrange(len(frame))
            frame = frame[:at] + bytes([frame[at] ^ 0x10]) + frame[at + 1 :]
        elif roll < 0.02 and mixed and mixed[-1][2] == source:
            # Two frames of one sender in one datagram, as a router may send.
            mixed[-1] = (mixed[-1][0], mixed[-1][1] + frame, source)
            continue
        elif roll < 0.025:  # someone else speaking for this sysid
            mixed.append((t_s, frame, SPOOFER))
        mixed.append((t_s, frame, source))
    return site, FleetDirectory(tuple(drones), tuple(bookings)), mixed


def snapshot(gw: Gateway, viewer: Subscriber, seen: list[str]) -> bytes:
    """Everything the two paths must agree on, as bytes that differ whenever a
    value does; the viewer's new frames are added to ``seen``."""
    vehicles = []
    for key in sorted(gw.vehicles):
        v = gw.vehicles[key]
        ring = v.ring_snapshot()
        values = tuple(getattr(v, name) for name in FIELDS)
        vehicles.append((key, values, ring.positions, ring.frames))
    counters = {sid: codec.counters.as_dict() for sid, codec in gw.codecs.items()}
    frames = []
    while (text := viewer.next_frame_nowait()) is not None:
        frames.append(text)
    seen.extend(frames)
    return marshal.dumps(
        (
            repr(vehicles),
            repr(sorted(counters.items())),
            repr(sorted(gw.refused_frames.items())),
            repr(sorted(gw._spoofed.items())),
            frames,
        ),
        2,
    )


def test_the_shortcut_leaves_the_gateway_as_the_general_path_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site, directory, datagrams = traffic(40.0)
    taken = [0]
    take_single = LinkCodec.take_single

    def counted(self: LinkCodec, data: bytes, now_s: float) -> Any:
        msg = take_single(self, data, now_s)
        taken[0] += msg is not None
        return msg

    monkeypatch.setattr(LinkCodec, "take_single", counted)
    gateways, viewers = [], []
    seen: tuple[list[str], list[str]] = ([], [])
    for _ in range(2):
        hub = LiveHub()
        viewers.append(hub.connect(Audience(sees_all=True, operator_id=None)))
        gw = Gateway({site.id: site}, hub)
        gw.set_directory(directory, WALL_S)
        gateways.append(gw)
    shortcut, reference = gateways
    next_tick_s = WALL_S
    ticks = 0
    for t_s, data, source in datagrams:
        while t_s >= next_tick_s:
            for gw in gateways:
                gw.tick(next_tick_s)
            ticks += 1
            if ticks % 10 == 0:
                a = snapshot(shortcut, viewers[0], seen[0])
                b = snapshot(reference, viewers[1], seen[1])
                assert a == b, f"the gateways differ after the tick at {next_tick_s}"
            next_tick_s += TICK_S
        shortcut.ingest(LINK, data, t_s, source)
        ingest_general(reference, LINK, data, t_s, source)
    a, b = (
        snapshot(shortcut, viewers[0], seen[0]),
        snapshot(reference, viewers[1], seen[1]),
    )
    assert a == b

    # The traffic exercised both paths and every kind of input: the shortcut
    # took nearly every datagram that is one unsigned MAVLink 2 frame of a hot
    # id (the rest: a vehicle's first, spoofed or damaged ones), and those are
    # under half of the traffic.
    singles = sum(1 for _, data, _ in datagrams if _hot_single(data))
    assert 0.9 * singles < taken[0] <= singles < 0.5 * len(datagrams)
    counters = shortcut.codecs[LINK].counters
    assert counters.bad_crc > 0
    # The spoofer's copies: refused by their pin, or as replays where signed.
    assert shortcut.refused_frames["wrong_source"] > 0
    assert counters.signature_rejected > 0
    kinds = {
        event.get("kind")
        for text in seen[0]
        if (frame := json.loads(text)).get("type") == "event"
        for event in [frame.get("event", frame)]
    }
    assert {"unbooked_flight", "boundary_exit", "near_edge", "link_lost"} <= kinds


def _hot_single(data: bytes) -> bool:
    return (
        data[0] == mavlink.PROTOCOL_MARKER_V2
        and not data[2]
        and len(data) == 12 + data[1]
        and data[7] | data[8] << 8 | data[9] << 16 in HOT_MESSAGE_IDS
    )
