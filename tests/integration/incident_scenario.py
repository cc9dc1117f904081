"""A drifting drone's incident, stored through the real repositories (not a test).

The drone flies east across corridor C1's east edge of the demo site at 4 m/s
(C1 is about 165 m wide; the drone starts 140 m inside the edge),
sampled at 2 Hz: inside, near the edge, then outside. The incident opens at the
first position outside; its evidence is the 30 s before and the 30 s after, with
one GLOBAL_POSITION_INT frame (pymavlink's encoder) per position. The booking's
1 Hz replay track covers the same flight.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from airspace.site import CorridorId, Site, SiteId
from booking.model import BookingId, DroneId, OperatorId
from telemetry.incidents.model import (
    EvidencePhase,
    EvidenceSample,
    IncidentId,
    IncidentKind,
    NewIncident,
    Severity,
    TrackSample,
    VolumeSnapshot,
)
from telemetry.incidents.repository import IncidentRepository
from telemetry.recording.track_store import TrackStore
from tests.mavlink_helpers import VehicleEncoder


def an_hour_ago() -> datetime:
    """A start in the recent past: the workflow's changes come after the flight."""
    return (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)


RATE_HZ = 2
SPEED_MPS = 4.0
EDGE_M = 5.0
VEHICLE_KEY = "udpin:0.0.0.0:14550/42"
SYSID = 42
CROSSING_S = 35.0


@dataclass(frozen=True)
class StoredIncident:
    """What the scenario stored."""

    incident_id: IncidentId
    samples: list[EvidenceSample]
    frames: list[tuple[float, bytes]]
    volume: VolumeSnapshot
    opened_at: datetime


def _state(x_m: float, edge_x_m: float) -> str:
    if x_m > edge_x_m:
        return "outside_lateral"
    return "near_edge" if x_m > edge_x_m - EDGE_M else "inside"


def drifting_positions(
    site: Site, start: datetime | None = None, seconds: float = 70.0
) -> list[EvidenceSample]:
    """Positions crossing C1's east edge ``CROSSING_S`` after ``start``, in order."""
    start = start or an_hour_ago()
    volume = site.corridor("C1").volume
    _, miny, maxx, maxy = volume.outline.bounds
    y = (miny + maxy) / 2
    alt = (volume.floor_amsl_m + volume.ceiling_amsl_m) / 2
    x0 = maxx - SPEED_MPS * CROSSING_S + 0.5  # outside from CROSSING_S on
    samples = []
    for n in range(int(seconds * RATE_HZ) + 1):
        dt = n / RATE_HZ
        x = x0 + SPEED_MPS * dt
        lon, lat = site.projection.to_lonlat(x, y)
        samples.append(
            EvidenceSample(
                t_s=start.timestamp() + dt,
                lat_deg=float(lat),
                lon_deg=float(lon),
                alt_amsl_m=alt + 0.01 * n,
                rel_alt_m=alt - 2.0,
                vn_mps=0.0,
                ve_mps=SPEED_MPS,
                vd_mps=0.0,
                heading_deg=90.0,
                state=_state(x, maxx),
            )
        )
    return samples


def store_drifting_incident(
    incidents: IncidentRepository,
    site: Site,
    *,
    operator_id: str | None = "acme",
    drone_id: str | None = "d1",
    booking_id: int | None = None,
    start: datetime | None = None,
    volume: VolumeSnapshot | None = None,
) -> StoredIncident:
    """Open the incident and store its evidence; return what was stored."""
    start = start or an_hour_ago()
    positions = drifting_positions(site, start)
    first_out = next(s for s in positions if s.state == "outside_lateral")
    opened_s = first_out.t_s
    corridor = site.corridor("C1")
    snapshot = volume or VolumeSnapshot.of(
        corridor.volume, site.projection, "corridor:C1"
    )
    encoder = VehicleEncoder(SYSID)
    window = [s for s in positions if opened_s - 30 <= s.t_s <= opened_s + 30]
    evidence = [
        dataclasses.replace(
            s,
            phase=EvidencePhase.BEFORE if s.t_s <= opened_s else EvidencePhase.AFTER,
        )
        for s in window
    ]
    frames = [
        (
            s.t_s,
            encoder.position(
                s.lat_deg,
                s.lon_deg,
                s.alt_amsl_m,
                s.rel_alt_m,
                ve_mps=s.ve_mps,
                time_boot_ms=round((s.t_s - start.timestamp()) * 1000),
            ),
        )
        for s in window
    ]
    opened_at = datetime.fromtimestamp(opened_s, UTC)
    incident_id, created = incidents.open_incident(
        NewIncident(
            site_id=SiteId(site.id),
            kind=IncidentKind.CORRIDOR_EXIT_LATERAL,
            severity=Severity.BREACH,
            at=opened_at,
            vehicle_key=VEHICLE_KEY,
            sysid=SYSID,
            message="Drone d1 left corridor C1 sideways (0.5 m outside)",
            drone_id=DroneId(drone_id) if drone_id else None,
            operator_id=OperatorId(operator_id) if operator_id else None,
            booking_id=BookingId(booking_id) if booking_id is not None else None,
            corridor_id=CorridorId("C1"),
            rule={"rule": "corridor_exit_lateral", "near_edge_m": EDGE_M},
            volume=snapshot,
            link={"msgs_per_s": 15.1, "link_age_s": 0.08, "seq_lost": 0},
            idempotency_key=uuid.uuid4().hex,
        )
    )
    assert created, "the scenario expects a new incident"
    incidents.add_evidence(incident_id, evidence, frames)
    return StoredIncident(incident_id, evidence, frames, snapshot, opened_at)


def store_booking_track(
    tracks: TrackStore, site: Site, booking_id: int, start: datetime | None = None
) -> list[TrackSample]:
    """Store the flight's 1 Hz replay track under ``booking_id``; return it."""
    start = start or an_hour_ago()
    track = [
        TrackSample(
            site_id=SiteId(site.id),
            vehicle_key=VEHICLE_KEY,
            sysid=SYSID,
            t_s=s.t_s,
            lat_deg=s.lat_deg,
            lon_deg=s.lon_deg,
            alt_amsl_m=s.alt_amsl_m,
            rel_alt_m=s.rel_alt_m,
            speed_mps=SPEED_MPS,
            heading_deg=s.heading_deg,
            battery_pct=80.0,
            state=s.state,
            drone_id=DroneId("d1"),
            booking_id=BookingId(booking_id),
        )
        for s in drifting_positions(site, start)[::RATE_HZ]
    ]
    tracks.append_track(track)
    return track
