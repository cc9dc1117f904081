"""What a first real flight through MAVProxy showed (issue 22), on recorded frames
through the real gateway, hub and recorder: the booking's ``.tlog`` holds every
frame from the vehicle's first, a ground station is not a vehicle, the frame rate
counts every frame, and a vehicle is tied to its drone and booking from its first
heartbeat."""

from __future__ import annotations

import itertools
import statistics
from pathlib import Path
from typing import Any

import orjson
import pytest
from pymavlink.dialects.v20 import ardupilotmega as mavlink
from sqlalchemy.engine import Engine
from sqlmodel import Session

from airspace.site_files import demo_site_path, load_site
from telemetry.incidents.repository import IncidentRepository
from telemetry.live.fleet import BookingEntry, DroneEntry, FleetDirectory
from telemetry.live.frames import vehicle_entries
from telemetry.live.gateway import Gateway
from telemetry.live.gateway_settings import GatewaySettings
from telemetry.live.hub import Audience, LiveHub
from telemetry.mavlink.tlog import TlogReader
from telemetry.recording.recorder import TelemetryRecorder
from telemetry.recording.track_store import TrackStore
from telemetry.reports.replay import booking_replay
from tests.mavlink_helpers import VehicleEncoder, corridor_point
from web.db import write_session

T0 = 1_795_000_000.0
LINK = "udpin:127.0.0.1:14550"
SITE = load_site(demo_site_path())
PARAMS_PER_S = 30
"""A parameter download's rate in the recorded flight: frames never decoded."""


def gcs_heartbeat(mav: mavlink.MAVLink) -> bytes:
    """A ground station's heartbeat, as MAVProxy forwards it (sysid 255)."""
    raw: bytes = mav.heartbeat_encode(
        mavlink.MAV_TYPE_GCS, mavlink.MAV_AUTOPILOT_INVALID, 0, 0, 0
    ).pack(mav)
    return raw


def param_value(enc: VehicleEncoder, index: int) -> bytes:
    raw: bytes = enc.mav.param_value_encode(
        f"P{index}".encode(), float(index), 9, 900, index
    ).pack(enc.mav)
    return raw


def status_text(enc: VehicleEncoder, text: str) -> bytes:
    raw: bytes = enc.mav.statustext_encode(6, text.encode()).pack(enc.mav)
    return raw


def world(
    sqlite_engine: Engine, tmp_path: Path
) -> tuple[Gateway, TelemetryRecorder, LiveHub]:
    incidents = IncidentRepository(
        lambda: write_session(sqlite_engine), lambda: Session(sqlite_engine)
    )
    tracks = TrackStore(
        lambda: write_session(sqlite_engine), lambda: Session(sqlite_engine)
    )
    recorder = TelemetryRecorder(incidents, tracks, tmp_path / "tlogs")
    recorder.start()
    hub = LiveHub(queue_frames=10_000, must_keep_frames=10_000)
    gateway = Gateway(
        {SITE.id: SITE}, hub, recorder, GatewaySettings(live_interval_s=0)
    )
    drones = (
        DroneEntry("D1", "Kite-1", SITE.id, "op-a", sysid=11),
        DroneEntry("D2", "Kite-2", SITE.id, "op-a", sysid=12),
    )
    booking = BookingEntry(
        7, "D1", SITE.id, "op-a", "C1", T0 - 600, T0 + 3600, "approved"
    )
    gateway.set_directory(FleetDirectory(drones, (booking,)), T0)
    return gateway, recorder, hub


def test_the_booking_tlog_holds_every_frame_from_the_first_and_no_none_path(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    gateway, recorder, hub = world(sqlite_engine, tmp_path)
    sub = hub.connect(Audience(sees_all=True, operator_id=None))
    enc, gcs = (
        VehicleEncoder(11),
        mavlink.MAVLink(None, srcSystem=255, srcComponent=230),
    )
    unplaced = VehicleEncoder(40)  # unregistered, never a position: site unknown
    sent = 0
    try:
        # 15 s before the first fix: heartbeats, status texts and a parameter
        # download, a ground station's heartbeats beside them.
        for i in range(150):
            t_s = T0 + i / 10
            parts = [param_value(enc, i * 3 + k) for k in range(3)]
            if i % 10 == 0:
                parts.append(enc.heartbeat(False))
            if i % 50 == 1:
                parts.append(status_text(enc, f"PreArm: waiting {i}"))
            data = b"".join(parts)
            sent += len(parts)
            gateway.ingest(LINK, data, t_s)
            gateway.ingest(LINK, gcs_heartbeat(gcs) if i % 10 == 0 else b"", t_s)
            if i == 0:
                gateway.ingest(LINK, unplaced.heartbeat(False), t_s)
            gateway.tick(t_s)
            if i == 5:
                vehicle = gateway.vehicles[f"{LINK}/11"]
                # Tied from its first heartbeat, before any position.
                assert (vehicle.drone_id, vehicle.booking_id) == ("D1", 7)
        inside = corridor_point(SITE, "C1")
        for i in range(150, 200):
            t_s = T0 + i / 10
            data = enc.heartbeat(True) + enc.position(*inside, 40.0)
            sent += 2
            gateway.ingest(LINK, data, t_s)
            gateway.tick(t_s)
        gateway.tick(T0 + 21.0)
        assert recorder.flush()
    finally:
        assert recorder.close()

    tlogs = tmp_path / "tlogs"
    booked = TlogReader(tlogs / SITE.id / "booking-7.tlog")
    frames = list(booked)
    assert len(frames) == sent
    assert not list(tlogs.rglob("None*"))
    assert sorted(p.relative_to(tlogs).as_posix() for p in tlogs.rglob("*")) == [
        SITE.id,
        f"{SITE.id}/booking-7.tlog",
        "unsited",
        "unsited/unbooked-sysid-40.tlog",
    ]

    # The link counts the two autopilots it heard, not the ground station.
    (link,) = gateway.links()
    assert link["vehicles"] == 2
    assert gateway.vehicle_count() == 2

    records: list[dict[str, Any]] = []
    while (text := sub.next_frame_nowait()) is not None:
        frame = orjson.loads(text)
        if frame["type"] == "vehicles":
            records += [
                v
                for v in vehicle_entries(frame)
                if v["key"] == f"{LINK}/11" and "drone_id" in v
            ]
    before_fix = [r for r in records if r["t_s"] is None]
    # Full records before the fix: when first tied, then every 10 s; all tied.
    assert 1 <= len(before_fix) <= 3
    assert {(r["drone_id"], r["booking_id"]) for r in before_fix} == {("D1", 7)}


def test_the_frame_rate_counts_every_frame_and_the_decoded_ones_apart() -> None:
    hub = LiveHub()
    gateway = Gateway({SITE.id: SITE}, hub, None, GatewaySettings())
    enc = VehicleEncoder(11)
    inside = corridor_point(SITE, "C1")
    for i in range(40):  # 4 s at 10 Hz: a position and 3 parameters each time
        t_s = T0 + i / 10
        data = enc.position(*inside, 40.0) + b"".join(
            param_value(enc, i * 3 + k) for k in range(3)
        )
        gateway.ingest(LINK, data, t_s)
        gateway.tick(t_s)
    (entry,) = gateway.vehicle_frames(T0 + 4.0)
    assert entry["frames_per_s"] == PARAMS_PER_S + 10
    assert entry["decoded_per_s"] == 10
    assert "msgs_per_s" not in entry


def test_the_replay_track_of_a_4_hz_stream_is_1_hz(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    gateway, recorder, _ = world(sqlite_engine, tmp_path)
    enc = VehicleEncoder(11)
    inside = corridor_point(SITE, "C1")
    try:
        # 30 s at about 4 Hz, each position a little late (a real link's jitter).
        for i in range(120):
            t_s = T0 + i * 0.25 + (0.02 if i % 3 else 0.0)
            gateway.ingest(LINK, enc.heartbeat(True) + enc.position(*inside, 40.0), t_s)
            gateway.tick(t_s)
        gateway.tick(T0 + 31.0)
        assert recorder.flush()
    finally:
        assert recorder.close()
    tracks = TrackStore(
        lambda: write_session(sqlite_engine), lambda: Session(sqlite_engine)
    )
    samples = booking_replay(7, "b7", tracks.track(booking_id=7), [], None).samples
    gaps = [b.t_s - a.t_s for a, b in itertools.pairwise(samples)]
    assert len(samples) == 30
    assert statistics.median(gaps) == pytest.approx(1.0, abs=0.03)
    assert max(gaps) < 1.1
