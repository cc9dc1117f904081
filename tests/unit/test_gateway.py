"""The gateway's tick on real MAVLink bytes: binding, conformance, events, frames.

Frames come from pymavlink's encoder; the hub is the real one with a staff
subscriber; time is driven by the test (``ingest``/``tick`` take ``now_s``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from airspace.site import Site
from airspace.site_files import demo_site_path, load_site
from airspace.site_parse import parse_site
from telemetry.live.fleet import BookingEntry, DroneEntry, FleetDirectory
from telemetry.live.frames import MOTION_FIELDS, vehicle_entries
from telemetry.live.gateway import Gateway
from telemetry.live.gateway_settings import GatewaySettings
from telemetry.live.hub import Audience, LiveHub, Subscriber
from telemetry.live.site_monitor import STATE_NAMES
from tests.harness.sites import site_copy
from tests.mavlink_helpers import VehicleEncoder, corridor_point

T0 = 1_795_000_000.0
LINK = "udpin:127.0.0.1:14550"
SITE = load_site(demo_site_path())


@pytest.fixture
def site() -> Site:
    return SITE


def sysid_of(entry: dict[str, Any]) -> int:
    """The system id in a vehicle entry's key (``<link>/<sysid>``): motion rows
    carry no ``sysid`` field."""
    return int(str(entry["key"]).rsplit("/", 1)[1])


def directory(corridor: str | None = "C1") -> FleetDirectory:
    drones = (DroneEntry("D1", "Kite-1", SITE.id, "op-a", sysid=11),)
    bookings = (
        (
            BookingEntry(
                booking_id=7,
                drone_id="D1",
                site_id=SITE.id,
                operator_id="op-a",
                corridor_id=corridor,
                start_s=T0 - 600,
                end_s=T0 + 3600,
                state="active",
            ),
        )
        if corridor
        else ()
    )
    return FleetDirectory(drones, bookings)


class World:
    """A gateway, a staff subscriber and one encoder per sysid."""

    def __init__(self, fleet: FleetDirectory) -> None:
        self.hub = LiveHub(queue_frames=10_000, must_keep_frames=10_000)
        self.sub: Subscriber = self.hub.connect(
            Audience(sees_all=True, operator_id=None)
        )
        self.gateway = Gateway({SITE.id: SITE}, self.hub, settings=GatewaySettings())
        self.gateway.set_directory(fleet, T0)
        self.encoders: dict[int, VehicleEncoder] = {}
        self.frames: list[dict[str, Any]] = []

    def send(self, sysid: int, data: bytes, t_s: float) -> None:
        self.gateway.ingest(LINK, data, t_s)

    def enc(self, sysid: int) -> VehicleEncoder:
        return self.encoders.setdefault(sysid, VehicleEncoder(sysid))

    def fly(
        self,
        sysid: int,
        at: tuple[float, float, float],
        t_s: float,
        armed: bool = True,
        rel_alt_m: float = 40.0,
    ) -> None:
        enc = self.enc(sysid)
        lat, lon, alt = at
        self.send(
            sysid, enc.heartbeat(armed) + enc.position(lat, lon, alt, rel_alt_m), t_s
        )
        self.gateway.tick(t_s)

    def drain(self) -> list[dict[str, Any]]:
        while (text := self.sub.next_frame_nowait()) is not None:
            self.frames.append(orjson.loads(text))
        return self.frames

    def events(self) -> list[dict[str, Any]]:
        return [f["event"] for f in self.drain() if f["type"] == "event"]

    def last_vehicle(self, sysid: int) -> dict[str, Any]:
        """The vehicle as a client pictures it: every record of it merged in order
        (a motion row carries only the fields telemetry changes)."""
        merged: dict[str, Any] = {}
        for frame in self.drain():
            if frame["type"] == "vehicles":
                for v in vehicle_entries(frame):
                    if sysid_of(v) == sysid:
                        merged.update(v)
        if not merged:
            raise AssertionError(f"no vehicle frame for sysid {sysid}")
        return merged


def test_a_booked_drone_inside_its_corridor_is_bound_and_raises_nothing() -> None:
    world = World(directory("C1"))
    inside = corridor_point(SITE, "C1")
    for i in range(10):
        world.fly(11, inside, T0 + i * 0.1)
    vehicle = world.last_vehicle(11)
    assert vehicle["drone_id"] == "D1"
    assert vehicle["booking_id"] == 7
    assert vehicle["corridor_id"] == "C1"
    assert vehicle["state"] in {"inside", "near_edge"}
    assert vehicle["lat_deg"] == pytest.approx(inside[0], abs=1e-6)
    assert vehicle["alt_amsl_m"] == pytest.approx(inside[2], abs=0.01)
    assert not [e for e in world.events() if e["severity"] == "breach"]


def test_leaving_the_corridor_sideways_raises_one_lateral_exit_after_two_samples() -> (
    None
):
    world = World(directory("C1"))
    world.fly(11, corridor_point(SITE, "C1"), T0)
    outside = corridor_point(SITE, "C1", outside_by_m=25)
    world.fly(11, outside, T0 + 0.1)
    assert not [e for e in world.events() if e["kind"] == "corridor_exit_lateral"]
    world.fly(11, outside, T0 + 0.2)
    world.fly(11, outside, T0 + 0.3)
    exits = [e for e in world.events() if e["kind"] == "corridor_exit_lateral"]
    assert len(exits) == 1
    assert exits[0]["severity"] == "breach"
    assert exits[0]["booking_id"] == 7
    assert "left corridor C1 sideways" in exits[0]["message"]
    assert exits[0]["details"]["lateral_distance_m"] < 0
    assert world.last_vehicle(11)["state"] == "outside_lateral"


@pytest.mark.parametrize(
    ("side", "vd_mps", "words"),
    [("above", -1.5, "above the ceiling"), ("below", 1.5, "below the floor")],
)
def test_leaving_the_altitude_band_says_through_which_side(
    side: str, vd_mps: float, words: str
) -> None:
    world = World(directory("C1"))
    lat, lon, alt = corridor_point(SITE, "C1")
    world.fly(11, (lat, lon, alt), T0)
    volume = SITE.corridor("C1").volume
    out_alt = (
        volume.ceiling_amsl_m + 10 if side == "above" else volume.floor_amsl_m - 10
    )
    enc = world.enc(11)
    for i in range(1, 4):
        t_s = T0 + i * 0.1
        world.send(11, enc.position(lat, lon, out_alt, 40.0, vd_mps=vd_mps), t_s)
        world.gateway.tick(t_s)
    exits = [e for e in world.events() if e["kind"] == "corridor_exit_vertical"]
    assert len(exits) == 1
    assert exits[0]["details"]["side"] == side
    assert words in exits[0]["message"]


def test_one_wild_sample_raises_no_breach() -> None:
    world = World(directory("C1"))
    inside = corridor_point(SITE, "C1")
    world.fly(11, inside, T0)
    world.fly(11, corridor_point(SITE, "C1", outside_by_m=500), T0 + 0.1)
    for i in range(2, 6):
        world.fly(11, inside, T0 + i * 0.1)
    assert not [e for e in world.events() if e["severity"] == "breach"]


def test_an_unregistered_vehicle_in_the_air_is_an_unbooked_flight() -> None:
    world = World(directory("C1"))
    point = corridor_point(SITE, "C2")
    world.fly(99, point, T0)
    world.fly(99, point, T0 + 0.1)
    events = [e for e in world.events() if e["kind"] == "unbooked_flight"]
    assert len(events) == 1
    assert events[0]["drone_id"] is None
    assert "not a registered drone" in events[0]["message"]
    assert world.last_vehicle(99)["state"] == "unassigned"


def test_an_intruder_heard_before_its_first_fix_is_flagged_at_its_second_position() -> (
    None
):
    # A heartbeat a tick before the first position binds it with no site; its
    # first position must place it at once, not at the next rebind (1 s later).
    world = World(directory("C1"))
    enc = world.enc(99)
    world.send(99, enc.heartbeat(True), T0)
    world.gateway.tick(T0)
    point = corridor_point(SITE, "C2")
    world.fly(99, point, T0 + 0.05)
    world.fly(99, point, T0 + 0.15)
    events = [e for e in world.events() if e["kind"] == "unbooked_flight"]
    assert len(events) == 1
    assert events[0]["t_s"] <= T0 + 0.15


def test_a_registered_drone_without_a_booking_for_now_is_an_unbooked_flight() -> None:
    world = World(directory(corridor=None))
    point = corridor_point(SITE, "C1")
    world.fly(11, point, T0)
    world.fly(11, point, T0 + 0.1)
    events = [e for e in world.events() if e["kind"] == "unbooked_flight"]
    assert [e["drone_id"] for e in events] == ["D1"]
    assert "no booking" in events[0]["message"]


def test_a_disarmed_drone_on_its_pad_is_on_the_ground_and_not_checked() -> None:
    world = World(directory(corridor=None))
    lat, lon, _ = corridor_point(SITE, "C1")
    for i in range(5):
        world.fly(11, (lat, lon, SITE.ground_elev_m), T0 + i * 0.1, False, 0.0)
    assert world.last_vehicle(11)["state"] == "on_ground"
    assert not [e for e in world.events() if e["severity"] == "breach"]


def test_silence_past_the_timeout_is_link_lost_and_a_new_message_restores_it() -> None:
    world = World(directory("C1"))
    inside = corridor_point(SITE, "C1")
    world.fly(11, inside, T0)
    world.gateway.tick(T0 + 2.9)
    assert not [e for e in world.events() if e["kind"] == "link_lost"]
    world.gateway.tick(T0 + 3.2)
    lost = [e for e in world.events() if e["kind"] == "link_lost"]
    assert len(lost) == 1
    assert lost[0]["severity"] == "breach"
    assert world.last_vehicle(11)["state"] == "link_lost"
    world.fly(11, inside, T0 + 4.0)
    assert [e["kind"] for e in world.events()].count("link_restored") == 1


def test_silence_while_the_gateway_is_behind_on_the_link_is_not_link_lost() -> None:
    world = World(directory("C1"))
    inside = corridor_point(SITE, "C1")
    world.fly(11, inside, T0)
    # Datagrams waited in the kernel at T0 + 2: the silence may be our backlog.
    world.gateway.note_backlog(LINK, T0 + 2.0)
    world.gateway.tick(T0 + 4.9)
    assert not [e for e in world.events() if e["kind"] == "link_lost"]
    # Caught up for a whole timeout and still silent: the link is really lost.
    world.gateway.tick(T0 + 5.2)
    assert [e["kind"] for e in world.events()].count("link_lost") == 1


def test_low_battery_warns_once() -> None:
    world = World(directory("C1"))
    inside = corridor_point(SITE, "C1")
    enc = world.enc(11)
    for i, pct in enumerate((50, 19, 18, 17)):
        world.send(11, enc.sys_status(pct), T0 + i * 0.1)
        world.fly(11, inside, T0 + i * 0.1)
    warnings = [e for e in world.events() if e["kind"] == "low_battery"]
    assert len(warnings) == 1
    assert warnings[0]["severity"] == "warning"
    assert warnings[0]["details"]["battery_pct"] == 19


def test_an_autopilot_fence_breach_raises_one_fence_breach() -> None:
    world = World(directory("C1"))
    inside = corridor_point(SITE, "C1")
    enc = world.enc(11)
    for i in range(3):
        world.send(11, enc.fence_status(breached=True), T0 + i * 0.1)
        world.fly(11, inside, T0 + i * 0.1)
    breaches = [e for e in world.events() if e["kind"] == "fence_breach"]
    assert len(breaches) == 1


def test_garbage_between_frames_is_counted_and_does_not_stop_decoding() -> None:
    world = World(directory("C1"))
    inside = corridor_point(SITE, "C1")
    world.gateway.ingest(LINK, b"\x00garbage\xfd\x09", T0)
    world.fly(11, inside, T0 + 0.1)
    assert world.last_vehicle(11)["drone_id"] == "D1"
    (link,) = world.gateway.links()
    assert link["garbage_bytes"] > 0 or link["truncated"] > 0


def test_unsigned_frames_of_a_signing_drone_are_reported_at_most_every_5_s() -> None:
    key = bytes(range(32))
    fleet = FleetDirectory(
        (DroneEntry("D1", "Kite-1", SITE.id, "op-a", sysid=11, signing_key=key),),
    )
    world = World(fleet)
    inside = corridor_point(SITE, "C1")
    for i in range(80):  # 8 s of unsigned positions at 10 Hz
        world.fly(11, inside, T0 + i * 0.1)
    reports = [e for e in world.events() if e["kind"] == "spoofed_frames"]
    assert [r["details"]["frames"] for r in reports[:1]] == [2]  # the first at once
    assert len(reports) == 2
    assert reports[1]["t_s"] - reports[0]["t_s"] >= 5.0
    assert sum(r["details"]["frames"] for r in reports) <= 160
    assert reports[0]["drone_id"] == "D1"
    # Nothing it sent was taken as a position.
    assert not [f for f in world.drain() if f["type"] == "vehicles"]


def test_vehicles_frames_send_full_records_first_then_only_what_moves() -> None:
    world = World(directory("C1"))
    inside = corridor_point(SITE, "C1")
    for i in range(15):  # 1.4 s at 10 Hz: seven frames at the 200 ms default
        world.fly(11, inside, T0 + i * 0.1)
    frames = [f for f in world.drain() if f["type"] == "vehicles"]
    assert 6 <= len(frames) <= 9, "about one frame per 200 ms, not one per tick"
    first = frames[0]["vehicles"]
    assert [(r["sysid"], r["drone_id"], r["corridor_id"]) for r in first] == [
        (11, "D1", "C1")
    ]
    assert frames[0]["motion"] == []
    # Later frames carry motion rows, one per frame, with what moved.
    rows = [row for f in frames[1:] for row in f["motion"]]
    assert not [r for f in frames[1:] for r in f["vehicles"]], "no full record again"
    assert len(rows) == len(frames) - 1
    assert all(f["motion_fields"] == list(MOTION_FIELDS) for f in frames)
    moved = [dict(zip(MOTION_FIELDS, row, strict=True)) for row in rows]
    assert {m["key"] for m in moved} == {first[0]["key"]}
    assert all(m["operator_id"] == "op-a" and m["state"] == "inside" for m in moved)
    assert moved[-1]["t_s"] > moved[0]["t_s"]
    assert all(m["armed"] and m["flying"] for m in moved)


def test_a_sysid_registered_at_two_sites_binds_to_the_nearer_one() -> None:
    far = parse_site(site_copy(SITE, 1, corridor_capacity=4))
    assert far.id != SITE.id
    drones = (
        DroneEntry("D1", "Kite-1", SITE.id, "op-a", sysid=11),
        DroneEntry("D9", "Far-9", far.id, "op-b", sysid=11),
    )
    hub = LiveHub(queue_frames=10_000, must_keep_frames=10_000)
    sub = hub.connect(Audience(sees_all=True, operator_id=None))
    gateway = Gateway({SITE.id: SITE, far.id: far}, hub)
    gateway.set_directory(FleetDirectory(drones, ()), T0)
    enc = VehicleEncoder(11)
    near_point, far_point = corridor_point(SITE, "C1"), corridor_point(far, "C1")
    t = T0
    for point, expected in ((near_point, "D1"), (far_point, "D9")):
        # Sticky for resite_s, then matched to the nearest site again.
        for _ in range(int(gateway.settings.resite_s / 0.5) + 2):
            t += 0.5
            lat, lon, alt = point
            gateway.ingest(
                LINK, enc.heartbeat(True) + enc.position(lat, lon, alt, 40.0), t
            )
            gateway.tick(t)
        (vehicle,) = gateway.vehicles.values()
        assert vehicle.drone_id == expected
        assert vehicle.site_id == (SITE.id if expected == "D1" else far.id)
    assert sub.pending() > 0


def test_a_sysid_of_two_sites_heard_before_its_first_fix_waits_for_it() -> None:
    # No position, no nearest site: the tick must not fail, and the first fix
    # binds it to the nearer site at once.
    far = parse_site(site_copy(SITE, 1, corridor_capacity=4))
    drones = (
        DroneEntry("D1", "Kite-1", SITE.id, "op-a", sysid=11),
        DroneEntry("D9", "Far-9", far.id, "op-b", sysid=11),
    )
    gateway = Gateway({SITE.id: SITE, far.id: far}, LiveHub())
    gateway.set_directory(FleetDirectory(drones, ()), T0)
    enc = VehicleEncoder(11)
    gateway.ingest(LINK, enc.heartbeat(True), T0)
    gateway.tick(T0)
    (vehicle,) = gateway.vehicles.values()
    assert vehicle.drone_id is None
    lat, lon, alt = corridor_point(far, "C1")
    gateway.ingest(LINK, enc.position(lat, lon, alt, 40.0), T0 + 0.1)
    gateway.tick(T0 + 0.1)
    (placed,) = gateway.vehicles.values()
    assert (placed.drone_id, placed.site_id) == ("D9", far.id)


def test_a_position_about_to_be_replaced_is_checked_first() -> None:
    """Per-site batching may hold a position back; never past the next one."""
    world = World(directory("C1"))
    world.gateway.settings = GatewaySettings(evaluate_every_s=3600.0, live_interval_s=0)
    enc = world.enc(11)
    inside = corridor_point(SITE, "C1")
    outside = corridor_point(SITE, "C1", outside_by_m=25)
    world.fly(11, inside, T0)  # a site's first batch goes at once
    for i, (lat, lon, alt) in enumerate([outside, outside, inside], start=1):
        # The site is never due by time: only the arrival of the next position
        # can trigger the check of the one before.
        world.send(11, enc.position(lat, lon, alt, 40.0), T0 + i * 0.1)
        world.gateway.tick(T0 + i * 0.1)
    exits = [e for e in world.events() if e["kind"] == "corridor_exit_lateral"]
    assert len(exits) == 1, "the two outside positions were both checked"
    # ... and each went out with its own state, though replaced before a tick.
    outside_reports = [
        (round(v["lat_deg"], 6), round(v["lon_deg"], 6))
        for f in world.drain()
        if f["type"] == "vehicles"
        for v in vehicle_entries(f)
        if sysid_of(v) == 11 and v["state"] == "outside_lateral"
    ]
    where = (round(outside[0], 6), round(outside[1], 6))
    assert outside_reports == [where, where]


def test_positions_that_arrive_together_between_ticks_are_each_checked() -> None:
    """Datagrams that waited together in the kernel reach ``ingest`` in one go,
    before any tick: the earlier positions must not be overwritten unchecked."""
    world = World(directory("C1"))
    world.gateway.settings = GatewaySettings(live_interval_s=0)
    enc = world.enc(11)
    inside = corridor_point(SITE, "C1")
    outside = corridor_point(SITE, "C1", outside_by_m=25)
    world.fly(11, inside, T0)
    burst = [inside, outside, outside, inside]
    for i, (lat, lon, alt) in enumerate(burst, start=1):
        world.send(11, enc.position(lat, lon, alt, 40.0), T0 + 1 + i * 0.1)
    world.gateway.tick(T0 + 1.5)
    exits = [e for e in world.events() if e["kind"] == "corridor_exit_lateral"]
    assert len(exits) == 1, "the two outside positions were both checked"
    states = [
        v["state"]
        for f in world.drain()
        if f["type"] == "vehicles"
        for v in vehicle_entries(f)
        if sysid_of(v) == 11
    ]
    assert states.count("outside_lateral") == 2
    # Each position in the evidence ring carries the state its own check gave.
    ring = world.gateway.vehicles[f"{LINK}/11"].samples(T0 + 1, T0 + 2)
    assert [STATE_NAMES[int(s.state_code)] for s in ring] == [
        "inside",
        "outside_lateral",
        "outside_lateral",
        "inside",
    ]


def test_positions_checked_early_are_streamed_when_the_frame_is_a_full_record() -> None:
    """Every ``full_record_s`` a frame carries each vehicle's full record; the
    positions checked early and replaced before it must still go out beside it."""
    world = World(directory("C1"))
    world.gateway.settings = GatewaySettings(live_interval_s=0, full_record_s=0)
    enc = world.enc(11)
    inside = corridor_point(SITE, "C1")
    outside = corridor_point(SITE, "C1", outside_by_m=300)
    world.fly(11, inside, T0)
    world.drain()
    for i, (lat, lon, alt) in enumerate([inside, outside, inside], start=1):
        world.send(11, enc.position(lat, lon, alt, 40.0), T0 + 1 + i * 0.1)
    world.gateway.tick(T0 + 1.5)
    wild = (round(outside[0], 6), round(outside[1], 6))
    shown = [
        (round(v["lat_deg"], 6), round(v["lon_deg"], 6))
        for f in world.drain()
        if f["type"] == "vehicles"
        for v in vehicle_entries(f)
        if sysid_of(v) == 11
    ]
    assert wild in shown, shown


def test_a_pending_breach_is_confirmed_at_the_next_tick_not_after_the_batch_delay() -> (
    None
):
    world = World(directory("C1"))
    world.gateway.settings = GatewaySettings(evaluate_every_s=0.05, live_interval_s=0)
    enc = world.enc(11)
    inside = corridor_point(SITE, "C1")
    lat, lon, alt = corridor_point(SITE, "C1", outside_by_m=25)
    world.fly(11, inside, T0)
    # The first outside sample is checked on the usual cadence ...
    world.send(11, enc.position(lat, lon, alt, 40.0), T0 + 0.1)
    world.gateway.tick(T0 + 0.1)
    assert [e for e in world.events() if e["kind"] == "corridor_exit_lateral"] == []
    # ... the confirming one 20 ms later, though the site checked 20 ms ago.
    world.send(11, enc.position(lat, lon, alt, 40.0), T0 + 0.12)
    world.gateway.tick(T0 + 0.12)
    exits = [e for e in world.events() if e["kind"] == "corridor_exit_lateral"]
    assert len(exits) == 1
    # Once the breach is open, its site is back on the usual cadence.
    world.send(11, enc.position(lat, lon, alt, 40.0), T0 + 0.14)
    world.gateway.tick(T0 + 0.14)
    assert world.gateway.vehicles[f"{LINK}/11"].position_pending is False
    assert f"{LINK}/11" in world.gateway._awaiting[SITE.id]


def test_a_position_that_may_confirm_a_breach_is_checked_once_the_loop_is_free() -> (
    None
):
    async def scenario() -> None:
        world = World(directory("C1"))
        gateway = world.gateway
        # Regular ticks 10 s apart: only a prompt tick can check in between.
        gateway.settings = GatewaySettings(
            tick_s=10.0, evaluate_every_s=0.05, live_interval_s=0
        )
        now = [T0]
        gateway.clock = lambda: now[0]
        enc = world.enc(11)
        lat, lon, alt = corridor_point(SITE, "C1", outside_by_m=25)
        world.fly(11, corridor_point(SITE, "C1"), T0)
        world.send(11, enc.position(lat, lon, alt, 40.0), T0 + 0.1)
        gateway.tick(T0 + 0.1)
        now[0] = T0 + 0.1
        runner = asyncio.create_task(gateway.run())
        await asyncio.sleep(0)  # its first tick; the next is 10 s away

        def exits() -> list[dict[str, Any]]:
            return [e for e in world.events() if e["kind"] == "corridor_exit_lateral"]

        assert exits() == []
        now[0] = T0 + 0.2
        world.send(11, enc.position(lat, lon, alt, 40.0), T0 + 0.2)
        assert exits() == []  # not in the read itself ...
        await asyncio.sleep(0)
        assert len(exits()) == 1  # ... but as soon as the loop is free
        # The breach is open: its next positions ask for no tick.
        world.send(11, enc.position(lat, lon, alt, 40.0), T0 + 0.3)
        assert not gateway._prompt_tick
        runner.cancel()

    asyncio.run(scenario())


def test_a_registered_drone_reaches_no_other_organisation_before_it_is_bound() -> None:
    """The race the hardening issue saw: a viewer whose snapshot is taken between
    the first datagram and the tick that binds the vehicle got it as an unregistered
    vehicle (no organisation, so shown to everyone). Unbound vehicles are left out
    of snapshots; the tick binds them before their first frame goes out."""
    world = World(directory("C1"))
    rival = world.hub.connect(Audience(sees_all=False, operator_id="op-b"))
    owner = world.hub.connect(Audience(sees_all=False, operator_id="op-a"))
    enc = world.enc(11)
    lat, lon, alt = corridor_point(SITE, "C1")
    world.send(11, enc.heartbeat(True) + enc.position(lat, lon, alt, 40.0), T0)
    # A viewer connecting now: the datagram is in, the tick has not run.
    assert world.gateway.vehicle_frames(T0) == []
    world.gateway.tick(T0 + 0.02)
    snapshot = world.gateway.vehicle_frames(T0 + 0.02)
    assert [(v["drone_id"], v["operator_id"]) for v in snapshot] == [("D1", "op-a")]
    seen_by_owner = [
        v
        for text in iter(owner.next_frame_nowait, None)
        if (frame := orjson.loads(text))["type"] == "vehicles"
        for v in vehicle_entries(frame)
    ]
    assert seen_by_owner
    assert all(v["key"].endswith("/11") for v in seen_by_owner)
    rival_vehicles = [
        frame
        for text in iter(rival.next_frame_nowait, None)
        if (frame := orjson.loads(text))["type"] == "vehicles"
        and vehicle_entries(frame)
    ]
    assert rival_vehicles == []


def test_datagrams_shed_under_overload_are_still_filed_in_the_vehicles_tlog() -> None:
    world = World(directory("C1"))
    source = ("10.0.0.7", 14550)
    enc = world.enc(11)
    lat, lon, alt = corridor_point(SITE, "C1")
    world.gateway.ingest(LINK, enc.heartbeat(True), T0, source)
    world.gateway.tick(T0)
    (vehicle,) = world.gateway.vehicles.values()
    before = vehicle.tlog_pending_count
    shed = [enc.position(lat, lon, alt, 40.0) for _ in range(3)]
    damaged = bytearray(enc.position(lat, lon, alt, 40.0))
    damaged[-1] ^= 0xFF
    world.gateway.record_shed(
        LINK,
        [
            (shed[0], source, T0 + 0.1),
            (shed[1], source, T0 + 0.2),
            (bytes(damaged), source, T0 + 0.25),  # a bad CRC is not filed
            (shed[2], ("10.0.0.9", 14550), T0 + 0.3),  # nor another sender's
        ],
    )
    records, count = vehicle.take_tlog()
    assert count == before + 2
    assert records.endswith(
        _tlog_record(T0 + 0.1, shed[0]) + _tlog_record(T0 + 0.2, shed[1])
    )
    assert not vehicle.position_pending, "filed, not decoded"


def _tlog_record(t_s: float, frame: bytes) -> bytes:
    return int(t_s * 1e6).to_bytes(8, "big") + frame


def test_while_a_link_sheds_its_reordered_frames_are_not_counted_as_radio_loss() -> (
    None
):
    world = World(directory("C1"))
    source = ("10.0.0.7", 14550)
    enc = world.enc(11)
    lat, lon, alt = corridor_point(SITE, "C1")
    gw = world.gateway
    frames = [enc.position(lat, lon, alt, 40.0) for _ in range(5)]  # seq 0..4
    gw.ingest(LINK, frames[0], T0, source)
    # Overloaded: the reader kept frame 1 (decoded later) and shed 2 and 3,
    # which are filed first.
    gw.note_backlog(LINK, T0 + 0.1)
    gw.record_shed(LINK, [(frames[2], source, T0 + 0.1), (frames[3], source, T0 + 0.1)])
    gw.ingest(LINK, frames[1], T0 + 0.2, source)
    codec = gw.codecs[LINK]
    assert codec.counters.seq_lost == 0, "a reorder, not loss"
    # Caught up (no drain for link_lost_s): gaps count again, from the next frame.
    later = T0 + 0.2 + gw.settings.link_lost_s
    gw.ingest(LINK, frames[4], later, source)
    assert not codec.seq_loss_paused
    enc.mav.seq = (enc.mav.seq + 3) % 256  # three frames lost on the radio
    gw.ingest(LINK, enc.position(lat, lon, alt, 40.0), later + 0.1, source)
    assert codec.counters.seq_lost == 3
