"""A breach's evidence from the gateway's rings through the real recorder and SQLite:
the window before the incident and the one after, built on the writer thread."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from airspace.site_files import demo_site_path, load_site
from telemetry.incidents.model import EvidencePhase
from telemetry.incidents.repository import IncidentRepository
from telemetry.live.fleet import BookingEntry, DroneEntry, FleetDirectory
from telemetry.live.gateway import Gateway
from telemetry.live.gateway_settings import GatewaySettings
from telemetry.live.hub import LiveHub
from telemetry.recording.recorder import TelemetryRecorder
from telemetry.recording.track_store import TrackStore
from tests.mavlink_helpers import VehicleEncoder, corridor_point
from web.db import write_session

T0 = 1_795_000_000.0
LINK = "udpin:127.0.0.1:14550"
SITE = load_site(demo_site_path())


def test_a_breach_stores_the_positions_and_frames_before_and_after_it(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    incidents = IncidentRepository(
        lambda: write_session(sqlite_engine), lambda: Session(sqlite_engine)
    )
    tracks = TrackStore(
        lambda: write_session(sqlite_engine), lambda: Session(sqlite_engine)
    )
    recorder = TelemetryRecorder(incidents, tracks, tmp_path / "tlogs")
    recorder.start()
    gateway = Gateway(
        {SITE.id: SITE},
        LiveHub(),
        recorder,
        GatewaySettings(evidence_s=2.0, live_interval_s=0),
    )
    drone = DroneEntry("D1", "Kite-1", SITE.id, "op-a", sysid=11)
    booking = BookingEntry(
        7, "D1", SITE.id, "op-a", "C1", T0 - 600, T0 + 3600, "active"
    )
    gateway.set_directory(FleetDirectory((drone,), (booking,)), T0)
    enc = VehicleEncoder(11)
    inside = corridor_point(SITE, "C1")
    outside = corridor_point(SITE, "C1", outside_by_m=25)
    try:
        # 10 Hz: 3 s inside, then outside for good; ticks as the gateway runs them.
        for i in range(60):
            t_s = T0 + i / 10
            lat, lon, alt = inside if i < 30 else outside
            gateway.ingest(
                LINK, enc.heartbeat(True) + enc.position(lat, lon, alt, 40.0), t_s
            )
            gateway.tick(t_s)
            if i == 31:  # the breach is confirmed: let the recorder store it
                assert recorder.flush()
        gateway.tick(T0 + 6.0)  # the window after it is due
        assert recorder.flush()
    finally:
        assert recorder.close()

    (incident,) = incidents.list_incidents()
    assert incident.kind == "corridor_exit_lateral"
    evidence = incidents.evidence(incident.id)
    before = [s for s in evidence.samples if s.phase is EvidencePhase.BEFORE]
    after = [s for s in evidence.samples if s.phase is EvidencePhase.AFTER]
    # 2 s either side of the confirming sample (t = 3.1 s), at 10 Hz.
    assert 18 <= len(before) <= 21
    assert 18 <= len(after) <= 21
    assert {s.state for s in before[:5]} == {"inside"}
    assert {s.state for s in after} == {"outside_lateral"}
    assert [s.t_s for s in evidence.samples] == sorted(s.t_s for s in evidence.samples)
    # Every frame of both windows: a heartbeat and a position each tenth of a second.
    assert 70 <= len(evidence.frames) <= 84
